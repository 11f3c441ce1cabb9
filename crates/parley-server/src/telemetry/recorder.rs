//! The metrics recorder: Prometheus's, with the histogram samples it holds
//! between two drains bounded.
//!
//! The Prometheus recorder keeps every histogram sample in a buffer until
//! something drains it into the histogram's buckets: a scrape of
//! `/metrics`, or an upkeep. Nothing else does (the exporter's own upkeep
//! task comes only with its HTTP listener, which Parley does not use), so
//! a server nobody scrapes would keep one sample per native command for
//! ever. Here an upkeep task drains every [`UPKEEP_PERIOD`], and the
//! recording path drains at once when [`MAX_HELD_SAMPLES`] are held.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use metrics_exporter_prometheus::{PrometheusHandle, PrometheusRecorder};

/// How often the upkeep task drains the held samples.
pub const UPKEEP_PERIOD: Duration = Duration::from_secs(5);

/// The most histogram samples held between two drains (about 8 bytes
/// each). Only a server recording more than this per [`UPKEEP_PERIOD`]
/// reaches it; the recording that does drains them.
pub const MAX_HELD_SAMPLES: usize = 16_384;

/// Renders and drains the process's metrics.
#[derive(Clone)]
pub struct Metrics {
    held: Arc<Held>,
}

impl Metrics {
    /// The metrics in Prometheus's text format. Rendering drains the held
    /// samples too.
    pub fn render(&self) -> String {
        self.held.samples.store(0, Ordering::Relaxed);
        self.held.handle.render()
    }

    /// Drains the held histogram samples into their buckets.
    pub fn run_upkeep(&self) {
        self.held.drain();
    }

    /// How many histogram samples are held until the next drain (an upper
    /// bound: a sample recorded during a drain may be counted and drained).
    pub fn held_samples(&self) -> usize {
        self.held.samples.load(Ordering::Relaxed)
    }
}

/// The samples held, and the handle that drains them.
struct Held {
    samples: AtomicUsize,
    handle: PrometheusHandle,
}

impl Held {
    /// Counts `count` new samples, and drains when they reach the bound.
    fn add(&self, count: usize) {
        let before = self.samples.fetch_add(count, Ordering::Relaxed);
        // Exactly one recording crosses the bound between two drains.
        if before < MAX_HELD_SAMPLES && before + count >= MAX_HELD_SAMPLES {
            self.drain();
        }
    }

    fn drain(&self) {
        // Zeroed first: samples recorded during the drain are counted
        // again, never lost from the count.
        self.samples.store(0, Ordering::Relaxed);
        self.handle.run_upkeep();
    }
}

/// Builds the recorder to install and the [`Metrics`] that read it.
pub fn bounded(recorder: PrometheusRecorder) -> (BoundedRecorder, Metrics) {
    let held = Arc::new(Held {
        samples: AtomicUsize::new(0),
        handle: recorder.handle(),
    });
    let metrics = Metrics { held: held.clone() };
    (
        BoundedRecorder {
            inner: recorder,
            held,
        },
        metrics,
    )
}

/// The Prometheus recorder, with its histograms counting what they hold.
pub struct BoundedRecorder {
    inner: PrometheusRecorder,
    held: Arc<Held>,
}

impl Recorder for BoundedRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.inner.describe_histogram(key, unit, description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.inner.register_counter(key, metadata)
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.inner.register_gauge(key, metadata)
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(BoundedHistogram {
            inner: self.inner.register_histogram(key, metadata),
            held: self.held.clone(),
        }))
    }
}

/// A Prometheus histogram that counts the samples it adds to the held ones.
struct BoundedHistogram {
    inner: Histogram,
    held: Arc<Held>,
}

impl HistogramFn for BoundedHistogram {
    fn record(&self, value: f64) {
        self.inner.record(value);
        self.held.add(1);
    }

    fn record_many(&self, value: f64, count: usize) {
        self.inner.record_many(value, count);
        self.held.add(count);
    }
}
