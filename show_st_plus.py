"""Streamlit page serving AutoInt+: ``streamlit run show_st_plus.py``."""

from movierec.app import page

page("autointp")
