"""Names of a package's classes, registered by a decorator next to each class.

The command line offers its noise models and query strategies by name, and the
library accepts the same names: both read one :class:`Registry`, filled where the
classes are defined, so a new class is one class and one registration.
"""

import importlib
import inspect


class Registry:
    """A name -> (class, fixed parameters) map, filled by :meth:`register`.

    Parameters
    ----------
    kind : str
        What the entries are, for error messages ("noise model").
    package : str, optional
        The package whose exports register themselves on import: the first
        look-up imports them, so the built-in names are there without the
        caller importing every module.
    base : type, optional
        The class every entry must subclass (checked when it registers, so a
        wrong class fails where it is written, not where it is used).
    required : tuple of str, default=()
        Parameters every entry's ``__init__`` must take.

    Examples
    --------
    >>> from skhisto.utils._registry import Registry
    >>> shapes = Registry("shape")
    >>> @shapes.register("unit-square", side=1)
    ... class Square:
    ...     def __init__(self, side=2):
    ...         self.side = side
    >>> shapes.names()
    ['unit-square']
    >>> shapes.make("unit-square").side
    1
    >>> shapes.unregister("unit-square")
    >>> shapes.names()
    []
    """

    def __init__(self, kind, package=None, *, base=None, required=()):
        self.kind, self.package = kind, package
        self.base, self.required = base, tuple(required)
        self._entries = {}
        self._loaded = False

    def register(self, name, **params):
        """Decorator: make ``cls(**params)`` available as ``name``; returns ``cls`` unchanged."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"a {self.kind} name must be a non-empty str, got {name!r}.")

        def decorate(cls):
            self._check_class(name, cls, params)
            if not cls.__module__.startswith(f"{self.package}."):
                self._load()  # a user's name meets the built-in ones now, not at their import
            taken = self._entries.get(name)
            # Re-running a class definition (a reloaded module) re-registers the same name.
            if taken is not None and taken[0].__qualname__ != cls.__qualname__:
                raise ValueError(
                    f"A {self.kind} named {name!r} is already registered "
                    f"({taken[0].__name__}); pick another name, or unregister it first."
                )
            self._entries[name] = (cls, dict(params))
            return cls

        return decorate

    def _check_class(self, name, cls, params):
        if not isinstance(cls, type) or (self.base is not None and not issubclass(cls, self.base)):
            base = f"a subclass of {self.base.__name__}" if self.base is not None else "a class"
            raise TypeError(f"The {self.kind} {name!r} must be {base}; got {cls!r}.")
        accepted = inspect.signature(cls).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
        missing = [p for p in (*self.required, *params) if p not in accepted and not takes_any]
        if missing:
            raise TypeError(
                f"The {self.kind} {name!r} ({cls.__name__}) must take the parameters "
                f"{missing}; its __init__ takes {list(accepted)}."
            )

    def unregister(self, name):
        """Remove ``name``; a ValueError naming the registered ones when it is not there."""
        self._entries.pop(self._checked(name))

    def names(self):
        """The registered names, sorted."""
        self._load()
        return sorted(self._entries)

    def get(self, name):
        """``(cls, params)`` registered as ``name``."""
        return self._entries[self._checked(name)]

    def make(self, name, **params):
        """A new instance of ``name``: its class with the registered and the given ``params``."""
        cls, fixed = self.get(name)
        return cls(**{**fixed, **params})

    def _checked(self, name):
        self._load()
        if name not in self._entries:
            raise ValueError(
                f"{name!r} is not a registered {self.kind}; the registered ones are "
                f"{sorted(self._entries)}."
            )
        return name

    def _load(self):
        """Import the package's exports once: each built-in class registers itself."""
        if self._loaded or self.package is None:
            return
        self._loaded = True
        package = importlib.import_module(self.package)
        for export in getattr(package, "__all__", ()):
            getattr(package, export)
