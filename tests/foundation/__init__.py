"""What everything stands on: settings and health probes, security headers, sign-in,
roles, log masking, the process supervisor, demo data, the broker."""
