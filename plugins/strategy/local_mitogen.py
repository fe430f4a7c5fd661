# -*- coding: utf-8 -*-
# Copyright: Protea contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The linear strategy, with Mitogen for plays that run only on the control node."""
from __future__ import annotations

DOCUMENTATION = r"""
name: local_mitogen
short_description: Linear, with Mitogen for plays whose hosts all use the local connection
description:
  - Runs every play exactly like C(ansible.builtin.linear).
  - When the Mitogen for Ansible package (C(mitogen) on PyPI) is installed and every host of a play
    uses C(ansible_connection=local) (the AWS plays, which run on the control node and talk to the
    AWS APIs), the play runs under Mitogen's linear strategy instead, which keeps one Python
    interpreter with boto3 imported for all tasks instead of starting one per task.
  - In that interpreter botocore keeps each service model file it has parsed, so the modules of a run
    parse the EC2, IAM or RDS model once instead of once per task (botocore reads them anew for every
    client; EC2's alone takes about 0.1 s to parse). The model files do not change during a run.
    Each data loader also answers where a model lies and which services exist from what an earlier
    session's loader found, instead of looking on disk again for every client.
  - Mitogen's planner lists every installed collection for each task of a collection module, in the
    task's worker process; this strategy lists them once per run, in the process the workers fork from.
  - Plays with any other host (ssh through the bastion, podman) always run under the stock
    strategy, so their connection options (ProxyJump, ssh config files, agents) behave as documented
    for Ansible.
  - Without the C(mitogen) package every play runs under C(ansible.builtin.linear).
author: Protea contributors
"""

import ansible.collections.list
from ansible.plugins.strategy.linear import StrategyModule as LinearStrategy


class _NoMitogen:  # pylint: disable=too-few-public-methods
    """Stands in for Mitogen's strategy mixin without the mitogen package (object would break the MRO)."""


try:
    import ansible_mitogen.loaders  # noqa: F401  (sets up Mitogen's plugin loaders first)
    import ansible_mitogen.planner
    import ansible_mitogen.services
    import ansible_mitogen.strategy
    MitogenMixin = ansible_mitogen.strategy.StrategyMixin
    HAS_MITOGEN = True
except ImportError:  # Mitogen is optional: without it this is the linear strategy.
    MitogenMixin = _NoMitogen
    HAS_MITOGEN = False

# Run once in the interpreter Mitogen starts for the local connection, before its first module.
# Source text, not a function: the interpreter imports only what the controller sends it, and this
# plugin's module is not importable there. Without botocore it does nothing.
MODEL_CACHE_SOURCE = r'''
try:
    import botocore.loaders
except ImportError:
    botocore = None
if botocore is not None and not getattr(botocore.loaders.JSONFileLoader.load_file, "protea_cached", False):
    def _once(method, key):
        # The method's answer per key, computed on the first call only.
        answers = {}

        def once(self, *args, **kwargs):
            found = key(self, args, kwargs)
            try:
                return answers[found]
            except KeyError:
                return answers.setdefault(found, method(self, *args, **kwargs))
        once.protea_cached = True
        return once
    # A parsed model file, by its path.
    botocore.loaders.JSONFileLoader.load_file = _once(botocore.loaders.JSONFileLoader.load_file,
                                                      lambda self, args, kwargs: args)
    # Loader caches these per instance, i.e. per session, and every module makes a new session: each
    # client creation walked the data directories (a stat per service) and merged the model's extras
    # again. Keyed by the search path, which decides the answer.
    for _name in ("list_available_services", "load_service_model"):
        setattr(botocore.loaders.Loader, _name, _once(
            getattr(botocore.loaders.Loader, _name),
            lambda self, args, kwargs: (tuple(self.search_paths), args, tuple(sorted(kwargs.items())))))
'''


def _all_local(connections):
    """True when there is at least one host and every one of them connects locally."""
    connections = list(connections)
    return bool(connections) and all(c == "local" for c in connections)


def _connect_with_model_cache(connect):
    """ContextService._connect, then the model cache in a new local interpreter."""
    def _connect(self, key, spec, via=None):
        result = connect(self, key, spec, via=via)
        if spec.get("method") == "local" and result.get("context") is not None:
            result["context"].call(exec, MODEL_CACHE_SOURCE, {})
        return result
    _connect.protea_original = connect  # bench/plugins/strategy: the same strategy without the cache
    return _connect


def _load_collections_from(collection_dirs):
    """Mitogen's planner._load_collections, from a list of collection directories made once."""
    def _load_collections(invocation):
        invocation._extra_sys_paths.update(collection_dirs)  # pylint: disable=protected-access
    _load_collections.protea_cached = True
    return _load_collections


def _cache_collection_dirs():
    """List the installed collections once, in the controller process the task workers fork from.

    Mitogen's planner lists every collection directory (a walk over the collection paths, with the
    ~100 collections of the ansible package) on each module of a collection it runs, in the task's
    worker process, whose cache goes away with it: about 0.1 s of controller time per task. The
    collections do not change during a run.
    """
    planner = ansible_mitogen.planner
    if getattr(planner._load_collections, "protea_cached", False):  # pylint: disable=protected-access
        return
    dirs = frozenset(d.decode("utf-8") for d in ansible.collections.list.list_collection_dirs())
    planner._load_collections = _load_collections_from(dirs)  # pylint: disable=protected-access


if HAS_MITOGEN and not hasattr(ansible_mitogen.services.ContextService._connect, "protea_original"):
    # Patched before Mitogen forks its connection multiplexer (the strategy's first run), which
    # inherits it: the multiplexer is where Mitogen starts the interpreters.
    ansible_mitogen.services.ContextService._connect = _connect_with_model_cache(
        ansible_mitogen.services.ContextService._connect)


class StrategyModule(MitogenMixin, LinearStrategy):
    """Chooses per play: Mitogen's linear strategy when the play is local only, else linear."""

    _protea_mitogen = False

    def _play_connections(self, iterator):
        play = iterator._play
        for host in self._inventory.get_hosts(play.hosts):
            variables = self._variable_manager.get_vars(play=play, host=host, include_hostvars=False)
            yield variables.get("ansible_connection", play.connection or "ssh")

    def run(self, iterator, play_context):
        self._protea_mitogen = HAS_MITOGEN and _all_local(self._play_connections(iterator))
        if self._protea_mitogen:
            _cache_collection_dirs()
            return MitogenMixin.run(self, iterator, play_context)
        return LinearStrategy.run(self, iterator, play_context)

    def _queue_task(self, host, task, task_vars, play_context):
        if self._protea_mitogen:
            return MitogenMixin._queue_task(self, host, task, task_vars, play_context)
        return LinearStrategy._queue_task(self, host, task, task_vars, play_context)

    def _execute_meta(self, task, play_context, iterator, target_host):
        if self._protea_mitogen:
            return MitogenMixin._execute_meta(self, task, play_context, iterator, target_host)
        return LinearStrategy._execute_meta(self, task, play_context, iterator, target_host)
