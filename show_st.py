"""Streamlit page serving AutoInt: ``streamlit run show_st.py``."""

from movierec.app import page

page("autoint")
