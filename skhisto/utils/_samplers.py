"""What skhisto's samplers share: fitting is the resampling itself."""


class FitByResampling:
    """``fit`` for samplers whose fitting is the resampling itself (noise, cleaning)."""

    def fit(self, X, y):
        """Fit on ``(X, y)``; prefer :meth:`fit_resample`, which also returns the result.

        Parameters
        ----------
        X : array-like of length n_samples
            The samples, as :meth:`fit_resample` takes them.
        y : array-like of shape (n_samples,)
            The labels.

        Returns
        -------
        self : object
            The fitted sampler.
        """
        self.fit_resample(X, y)
        return self
