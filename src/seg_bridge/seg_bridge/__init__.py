"""Zenoh bridge for the WAN between the edge and the cloud host."""
