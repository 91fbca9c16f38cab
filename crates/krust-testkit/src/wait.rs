//! Waiting for what the system does, within a deadline.

use std::future::Future;
use std::time::Duration;

/// Polls `check` every 50 ms until it yields a value and returns it; panics ("timed out
/// after … waiting for `what`") once `timeout` has passed. The one poller of the async tests.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The next item of `stream` (`None` when it ends); panics if none comes within `timeout`.
pub async fn next_within<S: futures::Stream + Unpin>(
    stream: &mut S,
    timeout: Duration,
) -> Option<S::Item> {
    use futures::StreamExt;
    tokio::time::timeout(timeout, stream.next())
        .await
        .expect("timed out waiting for the next stream item")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn eventually_returns_the_first_value_the_check_yields() {
        let mut calls = 0;
        let v = eventually(Duration::from_secs(5), "the third call", || {
            calls += 1;
            let now = calls;
            async move { (now == 3).then_some(now) }
        })
        .await;
        assert_eq!(v, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "waiting for nothing")]
    async fn eventually_panics_naming_what_it_waited_for() {
        eventually(Duration::from_millis(100), "nothing", || async {
            None::<()>
        })
        .await;
    }

    #[tokio::test]
    async fn next_within_returns_none_at_the_end_of_a_stream() {
        let mut s = futures::stream::iter([1]);
        assert_eq!(next_within(&mut s, Duration::from_secs(1)).await, Some(1));
        assert_eq!(next_within(&mut s, Duration::from_secs(1)).await, None);
    }
}
