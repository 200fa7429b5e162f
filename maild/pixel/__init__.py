"""The opt-in open pixel: a one-pixel image per tracked copy of a department that switched it on, and the opens it reports."""
