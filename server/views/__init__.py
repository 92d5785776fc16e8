"""HTTP layer: one flask-smorest blueprint per resource."""
