"""Demo data: a living platform to look at (`manage.py seed_demo`).

- `scenario`: the tenants, people, configuration and money, step by step through the services;
- `usage`: a month of model usage, charged through the runtimes' batch service;
- `seed`: running it once, in one transaction, and the summary;
- `logins`: the git-ignored file (mode 600) with the generated logins;
- `hashing`: the demo passwords' PBKDF2 rounds during the seed (raised at first sign-in).
"""

from console.demo.seed import (
    DemoResult,
    PartlySeeded,
    demo_counts,
    demo_present,
    demo_seed,
    logins_path,
    platform_admin,
)

__all__ = [
    "DemoResult",
    "PartlySeeded",
    "demo_counts",
    "demo_present",
    "demo_seed",
    "logins_path",
    "platform_admin",
]
