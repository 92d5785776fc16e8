"""Clients of the Fieldsync API: the Python device SDK and the fleet simulator."""
