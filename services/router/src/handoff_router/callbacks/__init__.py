"""Callbacks: signed, durable HTTP delivery of assignments and escalations to SDR tools.

The pure core (``retries``, ``circuit``) decides; the edges (``worker``,
``repository``, ``endpoints``) do the I/O around it.
"""
