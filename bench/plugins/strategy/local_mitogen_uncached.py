# -*- coding: utf-8 -*-
# Copyright: Protea contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark only (bench/strategy.py): protea.platform.local_mitogen without its botocore model
cache, so the cache's share of the strategy's gain is measured side by side."""
from __future__ import annotations

DOCUMENTATION = r"""
name: local_mitogen_uncached
short_description: protea.platform.local_mitogen without the botocore model cache (benchmark only)
description:
  - The strategy of ansible.cfg with Mitogen's own connection setup put back, so botocore parses
    its service models once per client as it does by default. For bench/strategy.py.
author: Protea contributors
"""

import ansible_mitogen.services
from ansible_collections.protea.platform.plugins.strategy.local_mitogen import StrategyModule  # noqa: F401

ansible_mitogen.services.ContextService._connect = getattr(
    ansible_mitogen.services.ContextService._connect, "protea_original",
    ansible_mitogen.services.ContextService._connect)
