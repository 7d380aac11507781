"""The app layer: the Streamlit entry file (``ENTRY``), its sidebar and tour, the webcam component and the Gradio demo,
over the lab/ core."""
from pathlib import Path

ENTRY = Path(__file__).parent / "main.py"  # what `streamlit run`, AppTest and the benchmarks start
