"""Conv2D Clinic: the small library behind the course's notebooks.

Modules, in the order the data flows:

- :mod:`convclinic.shapes`   pure shape arithmetic (no TensorFlow import)
- :mod:`convclinic.probe`    a real Keras Conv2D, run for given settings
- :mod:`convclinic.diagnosis` a failure mapped to a named cause and a fix
- :mod:`convclinic.ipython_extension` ``%load_ext convclinic``: the diagnosis under the error
- :mod:`convclinic.plots`    matplotlib drawings for the lessons
- :mod:`convclinic.widgets`  the ipywidgets views used in the lessons

Importing ``convclinic`` does not import TensorFlow; the heavy parts load
on first use.
"""

__version__ = "0.1.0"

_LAZY = {
    "diagnose": ("convclinic.diagnosis", "diagnose"),
    "diagnose_error": ("convclinic.diagnosis", "diagnose_error"),
    "Report": ("convclinic.diagnosis", "Report"),
    "CAUSES": ("convclinic.diagnosis", "CAUSES"),
    "probe": ("convclinic.probe", "probe"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module_name, attribute = _LAZY[name]
        return getattr(importlib.import_module(module_name), attribute)
    raise AttributeError(f"module 'convclinic' has no attribute {name!r}")


def load_ipython_extension(ipython):
    """``%load_ext convclinic``: a recognised Conv2D error gets a diagnosis box under its
    traceback (:mod:`convclinic.ipython_extension`; TensorFlow is not imported)."""
    from convclinic.ipython_extension import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython):
    """``%unload_ext convclinic``: the previous exception handler is back."""
    from convclinic.ipython_extension import unload_ipython_extension as unload

    unload(ipython)


__all__ = ["diagnose", "diagnose_error", "Report", "CAUSES", "probe", "__version__"]
