"""Conv2D Clinic: the small library behind the course's notebooks.

Modules, in the order the data flows:

- :mod:`convclinic.shapes`   pure shape arithmetic (no TensorFlow import)
- :mod:`convclinic.probe`    a real Keras Conv2D, run for given settings
- :mod:`convclinic.diagnosis` a failure mapped to a named cause and a fix
- :mod:`convclinic.plots`    matplotlib drawings for the lessons
- :mod:`convclinic.widgets`  the ipywidgets views used in the lessons

Importing ``convclinic`` does not import TensorFlow; the heavy parts load
on first use.
"""

__version__ = "0.1.0"

_LAZY = {
    "diagnose": ("convclinic.diagnosis", "diagnose"),
    "diagnose_error": ("convclinic.diagnosis", "diagnose_error"),
    "probe": ("convclinic.probe", "probe"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module_name, attribute = _LAZY[name]
        return getattr(importlib.import_module(module_name), attribute)
    raise AttributeError(f"module 'convclinic' has no attribute {name!r}")


__all__ = ["diagnose", "diagnose_error", "probe", "__version__"]
