"""The batch store's job of one article, on SQLite and on PostgreSQL: what ``start`` takes and
hands the job, whichever order the database returns the rows in."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from service.app import open_store
from service.batch_store import BatchRow, BatchStore, NewItem, utcnow

pytestmark = pytest.mark.backends


@pytest.fixture
def batches(make_settings) -> Iterator[BatchStore]:
    store = open_store(make_settings())
    store.migrate()
    try:
        yield BatchStore(store.engine)
    finally:
        store.close()


def _submit(batches: BatchStore, items: list[NewItem]) -> str:
    row = BatchRow(id=uuid.uuid4().hex, status="queued", created_at=utcnow(), total=len(items))
    batches.create(row, items)
    return row.id


def test_start_takes_every_item_of_the_article_and_reads_the_first_sent(batches: BatchStore):
    """Two batches ask for one article (its key), each with its own wording of the request
    and other articles around it: the job takes all four items of the key, in both batches,
    reads the request sent first, and starts both batches."""
    first = _submit(
        batches,
        [
            NewItem(0, None, "other", b'{"text": "another article"}'),
            NewItem(1, None, "key", b'{"text": "sent first"}'),
            NewItem(2, None, "key", b'{"text": "sent second"}'),
        ],
    )
    second = _submit(
        batches,
        [
            NewItem(0, None, "key", b'{"text": "sent third"}'),
            NewItem(1, None, "key", b'{"text": "sent fourth"}'),
        ],
    )
    started = batches.start("key", "host:1")
    assert started is not None
    assert started.request == b'{"text": "sent first"}'
    assert started.batch_ids == sorted([first, second])
    for batch_id in (first, second):
        row = batches.get(batch_id)
        assert row is not None and row.status == "running" and row.started_at is not None
    counts = batches.counts([first, second])
    assert (counts[first].running, counts[first].pending) == (2, 3)  # "other" still waits
    assert (counts[second].running, counts[second].pending) == (2, 2)

    # A job retried after its worker died takes the same items again.
    again = batches.start("key", "host:2")
    assert again is not None and again.request == b'{"text": "sent first"}'

    # Answered in both batches: the second has nothing left and ends, the first waits for
    # its other article.
    assert batches.finish("key", summary_id="s", cached=False) == {first: None, second: "done"}
    assert batches.start("key", "host:3") is None  # answered: nothing left to take
    first_row, second_row = batches.get(first), batches.get(second)
    assert first_row is not None and first_row.status == "running"
    assert second_row is not None and second_row.status == "done"
    assert second_row.finished_at is not None

    # The last article of the first batch fails: the batch ends all the same, once.
    assert batches.start("other", "host:1") is not None
    error = {"status": 502, "code": "model_invalid_output", "message": "not JSON"}
    assert batches.finish("other", error=error) == {first: "done"}
    assert batches.counts([first])[first].failed == 1
    assert batches.finish("other", error=error) == {}  # nothing running: nothing answered
