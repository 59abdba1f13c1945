"""Streamlit page serving AutoInt+: ``streamlit run show_st_plus.py`` (how it is run: movierec/server.py)."""

import streamlit as st

from movierec.server import draw_page, warm_start

if __name__ == "__main__":  # a visit
    draw_page("autointp")
else:  # the server starting: its st.App loads the model before anyone visits
    app = st.App(__file__, lifespan=warm_start("autointp"))
