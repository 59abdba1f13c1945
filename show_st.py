"""Streamlit page serving AutoInt: ``streamlit run show_st.py``."""

from movierec.startup import import_keras_lean

import_keras_lean()  # first: Keras' optional extras would cost the first page seconds (movierec/startup.py)

from movierec.app import page  # noqa: E402

page("autoint")
