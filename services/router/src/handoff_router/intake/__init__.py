"""Intake (CONTRACT §10): MQLs POSTed by marketing tools, sent as data by admins, or imported from CSV."""
