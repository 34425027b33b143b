"""MLflow: a session is an MLflow experiment named after its tag, each experiment one run.

The store is ``MLFLOW_TRACKING_URI`` when set, else a local SQLite store in ``.autoresearch/``
(``mlflow ui --backend-store-uri sqlite:///.autoresearch/mlflow.db`` shows it). Every metric is
logged at the experiment's number as its step, so a chart of ``best_so_far`` over the step is
the session's progress curve.
"""

from __future__ import annotations

import logging
import os
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

from autoresearch.history.trackers import TrackerDown

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from autoresearch.history.trackers.tracked import Tracked

COMPLETE = "autoresearch.complete"
KEY = "autoresearch.key"
# A server that does not answer its health check within this is down: the run is queued
# instead of waiting through the client's own retries, which take minutes.
HEALTH_TIMEOUT = 5.0


def open_tracker(state_dir: str) -> MlflowTracker:
    from mlflow.tracking import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # its INFO lines would cut the ticker
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    artifacts = None
    if not uri:
        state = os.path.abspath(state_dir)
        os.makedirs(state, exist_ok=True)
        uri = f"sqlite:///{os.path.join(state, 'mlflow.db')}"
        artifacts = "file://" + os.path.join(state, "mlflow-artifacts")
    _check_health(uri)
    return MlflowTracker(MlflowClient(tracking_uri=uri), uri, artifacts)


def _check_health(uri: str) -> None:
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=HEALTH_TIMEOUT):
            pass
    except (OSError, urllib.error.URLError) as error:
        reason = getattr(error, "reason", error)
        raise TrackerDown(f"mlflow: {uri} does not answer ({reason})") from None


class MlflowTracker:
    name = "mlflow"

    def __init__(self, client: MlflowClient, uri: str, artifacts: str | None) -> None:
        self.client = client
        self.uri = uri
        self.artifacts = artifacts
        self._experiments: dict[str, str] = {}

    def logged(self, group: str) -> set[str]:
        _check_health(self.uri)
        found = self.client.get_experiment_by_name(group)
        if found is None:
            return set()
        runs = self._search(found.experiment_id, f"tags.`{COMPLETE}` = 'true'")
        return {run.data.tags.get(KEY, "") for run in runs}

    def log(self, item: Tracked) -> None:
        from mlflow.entities import Metric, Param, RunStatus

        experiment = self._experiment(item.group)
        for half_made in self._search(experiment, f"tags.`{KEY}` = '{item.key}'"):
            self.client.delete_run(half_made.info.run_id)
        run = self.client.create_run(
            experiment, run_name=item.name, tags={**item.tags, KEY: item.key}
        )
        run_id = run.info.run_id
        stamp = int(time.time() * 1000)
        metrics = [Metric(k, v, stamp, item.number) for k, v in item.metrics.items()]
        metrics += [Metric("run_value", v, stamp, i) for i, v in enumerate(item.run_values)]
        params = [Param(k, v) for k, v in item.params.items()]
        self.client.log_batch(run_id, metrics=metrics, params=params)
        diff = item.diff()
        if diff:
            self.client.log_text(run_id, diff, "diff.patch")
        if item.log:
            self.client.log_artifact(run_id, item.log)
        status = RunStatus.FAILED if item.crashed else RunStatus.FINISHED
        self.client.set_terminated(run_id, status=RunStatus.to_string(status))
        self.client.set_tag(run_id, COMPLETE, "true")

    def _experiment(self, group: str) -> str:
        if group not in self._experiments:
            found = self.client.get_experiment_by_name(group)
            if found is not None:
                self._experiments[group] = found.experiment_id
            else:
                self._experiments[group] = self.client.create_experiment(
                    group, artifact_location=self.artifacts, tags={"autoresearch.session": group}
                )
        return self._experiments[group]

    def _search(self, experiment: str, query: str) -> list:  # type: ignore[type-arg]
        runs: list = []  # type: ignore[type-arg]
        token = None
        while True:
            page = self.client.search_runs(
                [experiment], filter_string=query, max_results=1000, page_token=token
            )
            runs.extend(page)
            token = page.token
            if not token:
                return runs
