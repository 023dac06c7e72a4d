"""Relance plugin 'sms_twilio' (work in progress: registers nothing yet)."""
