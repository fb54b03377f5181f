"""Governance: what the administration must be able to audit and control.

`privacy` finds and redacts personal data, `auth` is the admin login, `answer_log` the append-only
audit of answers, `feedback` stores redacted feedback, `retention` deletes entries past their period.
"""
