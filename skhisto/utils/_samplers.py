"""What skhisto's samplers share: fitting is the resampling itself."""


class FitByResampling:
    """``fit`` for samplers whose fitting is the resampling itself (noise, cleaning)."""

    def fit(self, X, y, **params):
        """Fit on ``(X, y)``; prefer :meth:`fit_resample`, which also returns the result.

        Parameters
        ----------
        X : array-like of length n_samples
            The samples, as :meth:`fit_resample` takes them.
        y : array-like of shape (n_samples,)
            The labels.
        **params : dict
            Passed to :meth:`fit_resample` (e.g. ``groups``). Not named here,
            so metadata routing asks for them on ``fit_resample`` only
            (``set_fit_resample_request``).

        Returns
        -------
        self : object
            The fitted sampler.
        """
        self.fit_resample(X, y, **params)
        return self
