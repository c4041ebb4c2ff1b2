"""The console's views, one module per subject: `home` (the landing redirect, the tenant list),
`signin` (password, second factor, forced enrolment, sign-out), `account` (the signed-in user's
own settings: two-factor authentication), `overview` (a tenant's overview and its low-balance
alerts).

Each view parses its input, calls services and selectors, and renders; the guards of
`console.access` (`public`, `user_page`, `tenant_page`) decide who may open it.
"""
