"""The address "/": Streamlit serves its default page there (and never at the page's own address), so
this page only sends each visitor on — to «Вхід» when nobody is signed in, else to their first page."""

from __future__ import annotations

from aikom.dashboard.context import current_person
from aikom.dashboard.navigation import home, switch_to

switch_to(home(current_person()).url_path)
