"""AppTest entry: the real shell, run from a directory without a `pages/` folder.

AppTest resets Streamlit's "legacy pages/ directory" flag before every run, so with app.py
(next to pages/) each run after a page switch would execute the page file bare. The product
handles that cold-start case (dashboard.shell.ensure_shell, checked by the browser test); for
widget-level tests we want the steady state of a running server, which this entry gives.
"""

from dashboard.shell import run

run()
