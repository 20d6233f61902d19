"""Bring-up of the segmentation product: which nodes run where, with which parameters and topics."""
