"""Lambda handler code for the task app; in Lambda these modules sit at the archive root."""
