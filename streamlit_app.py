"""musegen: the Streamlit app. Home page (a stub until the pages arrive)."""

import streamlit as st

st.set_page_config(page_title="musegen", page_icon="🎹", layout="wide")
st.title("musegen")
st.write("Train a neural network on MIDI music and play with what it composes.")
