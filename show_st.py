"""Streamlit page serving AutoInt: ``streamlit run show_st.py`` (how it is run: movierec/server.py)."""

import streamlit as st

from movierec.server import draw_page, warm_start

if __name__ == "__main__":  # a visit
    draw_page("autoint")
else:  # the server starting: its st.App loads the model before anyone visits
    app = st.App(__file__, lifespan=warm_start("autoint"))
