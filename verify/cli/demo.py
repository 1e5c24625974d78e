"""The bundled demo: official statements and one leak report about the January 2022
US and NATO written replies to Russia, paraphrased in verify's own words."""
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parents[1] / "demo_data"
