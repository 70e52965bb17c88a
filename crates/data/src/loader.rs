//! The multi-threaded loader: shuffled (per epoch, seeded), augmented, batched views.
//!
//! Worker `w` builds batches `w, w + W, w + 2W, …` of an epoch and hands them over through its
//! own bounded channel; the consumer takes batch `k` from worker `k mod W`, so batches arrive in
//! order and at most `prefetch` per worker wait in memory. Image `i` of epoch `e` is augmented
//! with the generator [`rng_for`]`(seed, e, i)`, so the batches of an epoch are
//! the same whatever the number of workers.
//!
//! The workers read the images too: a streamed [`ImageFolder`](crate::ImageFolder) is decoded
//! there, in parallel with the training step that consumes the previous batches. The time the
//! consumer waited for a batch is counted ([`EpochIter::waited`]): when it is a large part of a
//! step, loading is the bottleneck (more workers, or a cap on the images' size, help).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::dataset::ImageDataset;
use crate::error::{Error, Result};
use crate::transforms::{Image, MultiViewTransform, TransformRng, rng_for, shuffle, splitmix64};

/// How a [`Loader`] batches an epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoaderConfig {
    /// Images per batch. Default 128.
    pub batch_size: usize,
    /// Visit the images in a new random order each epoch. Default `true`.
    pub shuffle: bool,
    /// Drop the last, smaller batch of an epoch. Default `true` (as SSL training usually does).
    pub drop_last: bool,
    /// Seed of the shuffling and of every augmentation. Default 0.
    pub seed: u64,
    /// Worker threads; 0 builds batches on the calling thread. Default: the number of cores.
    pub num_workers: usize,
    /// Batches each worker may have ready ahead of the consumer. Default 2.
    pub prefetch: usize,
    /// What to do with an image that cannot be loaded when its batch is built (a streamed file
    /// deleted or corrupted since the folder was indexed): `false` (the default) makes the
    /// batch an error naming the file; `true` leaves the image out of its batch and lists it in
    /// [`ViewBatch::skipped`].
    pub skip_unreadable: bool,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        Self {
            batch_size: 128,
            shuffle: true,
            drop_last: true,
            seed: 0,
            num_workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            prefetch: 2,
            skip_unreadable: false,
        }
    }
}

/// One batch of augmented views, on the host (plain `f32` buffers), ready to become tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewBatch {
    /// One buffer per view, each `[B, C, H, W]` row-major.
    pub views: Vec<Vec<f32>>,
    /// The shape of each view's buffer.
    pub shapes: Vec<[usize; 4]>,
    /// The dataset index of each image of the batch.
    pub indices: Vec<usize>,
    /// The class of each image, `None` where unlabelled.
    pub targets: Vec<Option<usize>>,
    /// The labels the transform drew for each image
    /// ([`MultiViewTransform::labeled_views`]): `labels[t][i]` is task `t`'s label of image `i`.
    /// Empty unless the transform is a pretext one.
    pub labels: Vec<Vec<usize>>,
    /// Images left out of this batch because they could not be loaded (with
    /// [`LoaderConfig::skip_unreadable`]): the dataset index and the reason, naming the file.
    pub skipped: Vec<(usize, String)>,
}

impl ViewBatch {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// Whether the batch is empty (never produced by a [`Loader`]).
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// View `k` as a tensor on `device`.
    ///
    /// # Shapes
    /// - output: `[B, C, H, W]`
    pub fn view(&self, k: usize, device: &Device) -> Tensor<4> {
        Tensor::from_data(
            TensorData::new(self.views[k].clone(), self.shapes[k]),
            device,
        )
    }

    /// The class labels as an `Int` tensor, or `None` if any image is unlabelled.
    ///
    /// # Shapes
    /// - output: `[B]`
    pub fn targets(&self, device: &Device) -> Option<Tensor<1, Int>> {
        let labels: Option<Vec<i64>> = self.targets.iter().map(|t| t.map(|t| t as i64)).collect();
        labels.map(|l| {
            let n = l.len();
            Tensor::from_data(TensorData::new(l, [n]), device)
        })
    }
}

/// Feeds a training loop with batches of augmented views of an [`ImageDataset`].
///
/// ```no_run
/// use std::sync::Arc;
/// use selfsup_data::{CifarDataset, Loader, LoaderConfig, SimClrTransform, Split};
/// # fn main() -> selfsup_data::Result<()> {
/// let train = CifarDataset::cifar10("cifar-10-batches-bin", Split::Train)?;
/// let loader = Loader::new(
///     Arc::new(train),
///     Arc::new(SimClrTransform::cifar10()),
///     LoaderConfig { batch_size: 256, ..Default::default() },
/// )?;
/// for batch in loader.epoch(0) {
///     assert_eq!(batch?.views.len(), 2);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Loader {
    dataset: Arc<dyn ImageDataset>,
    transform: Arc<dyn MultiViewTransform>,
    indices: Arc<Vec<usize>>,
    config: LoaderConfig,
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("images", &self.indices.len())
            .field("transform", &self.transform)
            .field("config", &self.config)
            .finish()
    }
}

impl Loader {
    /// A loader over every image of `dataset`.
    ///
    /// Errors when `batch_size` or `prefetch` is 0 or the dataset is empty.
    pub fn new(
        dataset: Arc<dyn ImageDataset>,
        transform: Arc<dyn MultiViewTransform>,
        config: LoaderConfig,
    ) -> Result<Self> {
        let indices = (0..dataset.len()).collect();
        Self::with_indices(dataset, transform, config, indices)
    }

    /// A loader over the images `indices` of `dataset` only (a label budget, a `--limit`).
    pub fn with_indices(
        dataset: Arc<dyn ImageDataset>,
        transform: Arc<dyn MultiViewTransform>,
        config: LoaderConfig,
        indices: Vec<usize>,
    ) -> Result<Self> {
        if config.batch_size == 0 {
            return Err(Error::Invalid("loader: batch_size must be positive".into()));
        }
        if config.prefetch == 0 {
            return Err(Error::Invalid("loader: prefetch must be positive".into()));
        }
        if indices.is_empty() {
            return Err(Error::Invalid("loader: no images to load".into()));
        }
        if let Some(&bad) = indices.iter().find(|&&i| i >= dataset.len()) {
            return Err(Error::Invalid(format!(
                "loader: index {bad} is out of range for a dataset of {} images",
                dataset.len()
            )));
        }
        Ok(Self {
            dataset,
            transform,
            indices: Arc::new(indices),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LoaderConfig {
        &self.config
    }

    /// Number of images an epoch visits (before `drop_last`).
    pub fn num_images(&self) -> usize {
        self.indices.len()
    }

    /// Number of batches in one epoch.
    pub fn batches_per_epoch(&self) -> usize {
        let (n, b) = (self.indices.len(), self.config.batch_size);
        if self.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// The dataset indices of epoch `epoch`, in visiting order.
    ///
    /// With [`shuffle`](LoaderConfig::shuffle), the indices are permuted by the project's
    /// Fisher–Yates [`shuffle`] over a [`TransformRng`] seeded from
    /// `(seed, epoch)`: the order depends only on those two numbers and the indices, in every
    /// release (it does not go through `rand`'s `StdRng`, whose stream may change between
    /// versions).
    pub fn epoch_order(&self, epoch: u64) -> Vec<usize> {
        let mut order = (*self.indices).clone();
        if self.config.shuffle {
            let seed = splitmix64(self.config.seed ^ splitmix64(epoch.wrapping_add(0x5eed)));
            shuffle(&mut order, &mut TransformRng::from_u64(seed));
        }
        order
    }

    /// The batches of epoch `epoch`, in order, built by the worker threads.
    pub fn epoch(&self, epoch: u64) -> EpochIter {
        self.epoch_from(epoch, 0)
    }

    /// The batches of epoch `epoch` from batch `first` on (a resumed epoch): the same batches
    /// as [`epoch`](Self::epoch) gives after its first `first`, without building those.
    pub fn epoch_from(&self, epoch: u64, first: usize) -> EpochIter {
        let order = self.epoch_order(epoch);
        let batches: Vec<Vec<usize>> = order
            .chunks(self.config.batch_size)
            .take(self.batches_per_epoch())
            .skip(first)
            .map(<[usize]>::to_vec)
            .collect();
        let batches = Arc::new(batches);
        let workers = self.config.num_workers.min(batches.len());
        let mut receivers = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for w in 0..workers {
            let (tx, rx) = sync_channel(self.config.prefetch);
            let job = Job {
                loader: self.clone(),
                batches: batches.clone(),
                epoch,
            };
            handles.push(std::thread::spawn(move || job.run(w, workers, tx)));
            receivers.push(rx);
        }
        EpochIter {
            job: Job {
                loader: self.clone(),
                batches,
                epoch,
            },
            receivers,
            handles,
            next: 0,
            waited: Duration::ZERO,
        }
    }

    /// Builds one batch from dataset indices, augmenting image `i` with `rng_for(seed, epoch, i)`.
    ///
    /// Each image is read at its own [`shape`](ImageDataset::shape); images may differ in size as
    /// long as the transform brings every view `k` to one size.
    ///
    /// # Errors
    /// The first image that cannot be loaded ([`ImageDataset::pixels`]), unless
    /// [`skip_unreadable`](LoaderConfig::skip_unreadable) leaves it out; [`Error::Invalid`]
    /// when every image of the batch was left out.
    ///
    /// # Panics
    /// If view `k` of one image differs in shape from view `k` of an earlier image of the batch
    /// (the message names the image), or the dataset's pixels do not match its shape.
    pub fn build_batch(&self, indices: &[usize], epoch: u64) -> Result<ViewBatch> {
        let num_views = self.transform.num_views();
        let num_labels = self.transform.num_labels();
        let mut labels: Vec<Vec<usize>> = vec![Vec::with_capacity(indices.len()); num_labels];
        let mut views: Vec<Vec<f32>> = vec![Vec::new(); num_views];
        let mut shapes = vec![[0; 4]; num_views];
        let mut kept = Vec::with_capacity(indices.len());
        let mut skipped = Vec::new();
        for &i in indices {
            let [c, h, w] = self.dataset.shape(i);
            let pixels = match self.dataset.pixels(i) {
                Ok(pixels) => pixels,
                Err(err) if self.config.skip_unreadable => {
                    skipped.push((i, err.to_string()));
                    continue;
                }
                Err(err) => return Err(err),
            };
            kept.push(i);
            let image = Image::from_chw_u8(&pixels, c, h, w).unwrap_or_else(|e| {
                panic!("image {i} of the dataset does not match its shape [{c}, {h}, {w}]: {e}")
            });
            drop(pixels);
            let mut rng = rng_for(self.config.seed, epoch, i as u64);
            let (image_views, image_labels) = self.transform.labeled_views(&image, &mut rng);
            assert_eq!(
                image_labels.len(),
                num_labels,
                "the transform drew {} labels for image {i}, but says it draws {num_labels}",
                image_labels.len()
            );
            for (task, label) in image_labels.into_iter().enumerate() {
                labels[task].push(label);
            }
            for (k, view) in image_views.into_iter().enumerate() {
                let [vc, vh, vw] = view.shape();
                let shape = [0, vc, vh, vw];
                assert!(
                    views[k].is_empty() || shapes[k] == shape,
                    "view {k} of image {i} (an image of shape {:?}) is {:?}, but the earlier images \
                     of its batch gave {:?}: the views of a batch must have one size, so images of \
                     different sizes need a transform that crops or resizes them to one size \
                     (a random resized crop does)",
                    [c, h, w],
                    [vc, vh, vw],
                    &shapes[k][1..]
                );
                shapes[k] = shape;
                views[k].extend_from_slice(view.data());
            }
        }
        if kept.is_empty() {
            return Err(Error::Invalid(format!(
                "loader: every image of a batch of {} was left out as unreadable, the first \
                 because: {}",
                indices.len(),
                skipped
                    .first()
                    .map_or("", |s: &(usize, String)| s.1.as_str())
            )));
        }
        for shape in &mut shapes {
            shape[0] = kept.len();
        }
        Ok(ViewBatch {
            views,
            shapes,
            targets: kept.iter().map(|&i| self.dataset.target(i)).collect(),
            indices: kept,
            labels,
            skipped,
        })
    }
}

/// The work of one epoch, shared by the workers.
struct Job {
    loader: Loader,
    batches: Arc<Vec<Vec<usize>>>,
    epoch: u64,
}

impl Job {
    fn run(self, worker: usize, workers: usize, tx: SyncSender<Result<ViewBatch>>) {
        for k in (worker..self.batches.len()).step_by(workers) {
            let batch = self.loader.build_batch(&self.batches[k], self.epoch);
            let failed = batch.is_err();
            if tx.send(batch).is_err() || failed {
                return; // the consumer stopped early, or will stop at this error
            }
        }
    }
}

/// Iterator over the batches of one epoch (see [`Loader::epoch`]): each is the batch, or the
/// error of an image that could not be loaded (see [`Loader::build_batch`]).
pub struct EpochIter {
    job: Job,
    receivers: Vec<Receiver<Result<ViewBatch>>>,
    handles: Vec<JoinHandle<()>>,
    next: usize,
    waited: Duration,
}

impl EpochIter {
    /// The time [`next`](Iterator::next) has spent waiting for batches so far: for the workers
    /// to build them, or building them itself without workers. A training loop that spends a
    /// large part of its steps here is starved of data.
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

impl Iterator for EpochIter {
    type Item = Result<ViewBatch>;

    fn next(&mut self) -> Option<Result<ViewBatch>> {
        let k = self.next;
        if k >= self.job.batches.len() {
            return None;
        }
        self.next += 1;
        let started = Instant::now();
        if self.receivers.is_empty() {
            let batch = self
                .job
                .loader
                .build_batch(&self.job.batches[k], self.job.epoch);
            self.waited += started.elapsed();
            return Some(batch);
        }
        let received = self.receivers[k % self.receivers.len()].recv();
        self.waited += started.elapsed();
        match received {
            Ok(batch) => Some(batch),
            Err(_) => {
                // The worker died: surface its panic rather than ending the epoch silently.
                let handle = self.handles.remove(k % self.handles.len());
                match handle.join() {
                    Err(panic) => std::panic::resume_unwind(panic),
                    Ok(()) => panic!("loader worker stopped before batch {k}"),
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.job.batches.len() - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for EpochIter {}

impl Drop for EpochIter {
    fn drop(&mut self) {
        // Closing the channels makes every worker's next send fail, so they all stop.
        self.receivers.clear();
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}
