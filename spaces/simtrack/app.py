"""Hugging Face Space entry point of the SimTrack web demo (the Space runs `python app.py`).

The `simtrack_hf` package sits beside this file on the Space (see README.md); locally, `simtrack app` runs the
same app.
"""

from simtrack_hf.app import launch

if __name__ == "__main__":
    launch()
