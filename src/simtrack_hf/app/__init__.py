"""The SimTrack web app (Gradio): `simtrack app` runs it locally, `spaces/simtrack/app.py` on a Hugging Face Space.

`core` holds the work (input checks, streamed tracking, result files) without Gradio; `ui` builds the page.
Needs the ``[app]`` extra (``pip install simtrack_hf[app]``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_app", "launch"]


def __getattr__(name: str) -> Any:
    """`build_app` / `launch` import Gradio on first use, with a one-line hint when the extra is missing."""
    if name in __all__:
        try:
            from . import ui
        except ImportError as err:
            if err.name and err.name.split(".")[0] == "gradio":
                raise ImportError(
                    f"the web app needs the [app] extra: pip install simtrack_hf[app] ({err.name} is missing)"
                ) from None
            raise
        return getattr(ui, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
