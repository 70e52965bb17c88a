//! `--dataset`: which images, where they are (downloading them on first use), at what size, and
//! the normalization that goes with them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use clap::{Args, ValueEnum};
pub use selfsup::data::Part;
use selfsup::data::transforms::{Normalize, below, rng_for};
use selfsup::data::{
    Archive, CenterResized, CifarDataset, CifarOptions, CifarVariant, DownloadProgress,
    IMAGENET_SETUP, ImageDataset, ImageFolder, ImageFolderOptions, ImageNetClasses, ImageNetFiles,
    ImageNetOptions, ImageNetSplit, Split, Stl10, Stl10Split, Storage, StorageChoice,
    class_balanced_subset, default_cache_dir, download_archive_with_progress,
};

use crate::Result;
use crate::logging::byte_bar;

/// A dataset the command line reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatasetKind {
    /// CIFAR-10 (binary version): 50 000 train and 10 000 test 32×32 images, 10 classes.
    Cifar10,
    /// CIFAR-100 (binary version), fine labels: 100 classes.
    Cifar100,
    /// STL-10 (Coates et al. 2011): 100 000 unlabelled + 5 000 labelled train and 8 000 test
    /// 96×96 images, 10 classes. Pre-training uses the unlabelled and train images.
    Stl10,
    /// Your own images: `--data-dir` holds one sub-folder per class (or only images, unlabelled);
    /// `--test-dir`, laid out alike, holds the held-out images of the evaluations.
    Folder,
    /// ImageNet (ILSVRC-2012): `--data-dir` holds `train/` (a folder per synset) and `val/`
    /// (synset folders, or flat with the devkit's ground truth); 1.28 M training and 50 000
    /// validation images, 1000 classes. Not downloadable: see `--dataset imagenet --help`.
    Imagenet,
    /// ImageNet-100: the 100 classes of CMC (Tian et al. 2020) that solo-learn trains on, read
    /// from a full ImageNet `--data-dir` (or one holding just those classes); about 126 689
    /// training and 5 000 validation images.
    Imagenet100,
}

impl DatasetKind {
    /// What the command line knows of the dataset and how it opens it: the one place that
    /// dispatches on the kind, one line each.
    /// The dataset's default normalisation (its channel statistics for CIFAR, ImageNet's
    /// otherwise).
    pub fn normalize(self) -> Normalize {
        self.source().normalize()
    }

    fn source(self) -> &'static dyn Source {
        match self {
            DatasetKind::Cifar10 => &CifarVariant::Cifar10,
            DatasetKind::Cifar100 => &CifarVariant::Cifar100,
            DatasetKind::Stl10 => &Stl10Source,
            DatasetKind::Folder => &FolderSource,
            DatasetKind::Imagenet => &ImageNetClasses::All,
            DatasetKind::Imagenet100 => &ImageNetClasses::ImageNet100,
        }
    }
}

/// One `--dataset`: its defaults, which come from the dataset's own type in `selfsup::data`
/// (size, normalisation, archive, which split serves which [`Part`]), and how the flags open it.
trait Source: Sync {
    /// The default `--image-size`.
    fn image_size(&self) -> usize;

    /// The normalization of the views and evaluation images.
    fn normalize(&self) -> Normalize;

    /// The part whose images `part` is: parts that read the same images share one opening.
    fn reads(&self, part: Part) -> Part {
        part
    }

    /// Reads `part` from disk (downloading the dataset first when it is missing and may be).
    fn read(&self, args: &DataArgs, part: Part) -> Result<Opened>;
}

/// CIFAR-10 and CIFAR-100: downloaded, 32×32, their own channel statistics.
impl Source for CifarVariant {
    fn image_size(&self) -> usize {
        CifarVariant::image_size(*self)
    }

    fn normalize(&self) -> Normalize {
        CifarVariant::normalize(*self)
    }

    fn reads(&self, part: Part) -> Part {
        // Pre-training reads the labelled training images.
        if Split::for_part(part) == Split::for_part(Part::Train) {
            Part::Train
        } else {
            part
        }
    }

    fn read(&self, args: &DataArgs, part: Part) -> Result<Opened> {
        let dir = args.dataset_dir(self.archive())?;
        let split = Split::for_part(part);
        let options = CifarOptions {
            verify_md5: args.verify_md5,
            ..CifarOptions::default()
        };
        let dataset = CifarDataset::open_with(&dir, *self, split, &options)?;
        let what = format!("{:?} {split:?} ({})", args.dataset, dir.display());
        Ok(Opened {
            classes: dataset.classes().to_vec(),
            dataset: Arc::new(dataset),
            what,
            storage: None,
        })
    }
}

/// STL-10: downloaded, 96×96, pre-training on its unlabelled and training images.
struct Stl10Source;

impl Source for Stl10Source {
    fn image_size(&self) -> usize {
        Stl10::IMAGE_SIZE
    }

    fn normalize(&self) -> Normalize {
        Stl10::normalize()
    }

    fn read(&self, args: &DataArgs, part: Part) -> Result<Opened> {
        let dir = args.dataset_dir(Stl10::ARCHIVE)?;
        let split = Stl10Split::for_part(part);
        let dataset = Stl10::open(&dir, split)?;
        Ok(Opened {
            classes: dataset.classes().to_vec(),
            dataset: Arc::new(dataset),
            what: format!("STL-10 {split:?} ({})", dir.display()),
            storage: None,
        })
    }
}

/// The user's own images: `--data-dir` to train on, `--test-dir` to test on; STL-10's size and
/// ImageNet's statistics unless told otherwise.
struct FolderSource;

impl Source for FolderSource {
    fn image_size(&self) -> usize {
        Stl10::IMAGE_SIZE
    }

    fn normalize(&self) -> Normalize {
        Normalize::imagenet()
    }

    fn read(&self, args: &DataArgs, part: Part) -> Result<Opened> {
        let dir = match part {
            Part::Pretrain | Part::Train => args
                .data_dir
                .clone()
                .ok_or("--dataset folder needs --data-dir: the folder of images to train on")?,
            Part::Test => args.test_dir.clone().ok_or(
                "this command tests on held-out images: pass --test-dir, a folder laid \
                 out as --data-dir (one sub-folder per class)",
            )?,
        };
        let folder = args.open_folder(&dir)?;
        let what = format!(
            "{} images in {} ({} classes, {})",
            folder.len(),
            dir.display(),
            folder.classes().len(),
            folder.storage()
        );
        let classes = folder.classes().to_vec();
        let storage = Some(folder.storage());
        let dataset = args.for_part(folder, part)?;
        Ok(Opened {
            storage,
            dataset,
            what,
            classes,
        })
    }
}

/// ImageNet and ImageNet-100, from `--data-dir`: its training images for pre-training and the
/// evaluations' labelled images, its validation images for their tests.
impl Source for ImageNetClasses {
    fn image_size(&self) -> usize {
        ImageNetClasses::image_size(*self)
    }

    fn normalize(&self) -> Normalize {
        ImageNetClasses::normalize(*self)
    }

    fn read(&self, args: &DataArgs, part: Part) -> Result<Opened> {
        let classes = *self;
        let root = args.data_dir.clone().ok_or_else(|| {
            format!(
                "--dataset {} needs --data-dir, the ImageNet root.\n{IMAGENET_SETUP}",
                classes.name()
            )
        })?;
        let split = ImageNetSplit::for_part(part);
        let key = root.join(split.dir_name());
        let folder = args.cached_folder(&key, || {
            let options = ImageNetOptions {
                classes,
                ..ImageNetOptions::default()
            };
            let files = ImageNetFiles::list(&root, split, &options)?;
            if !files.is_complete() {
                tracing::warn!(
                    "{}: {} of the {} classes of {} found",
                    key.display(),
                    files.num_classes(),
                    classes.official_count(),
                    classes.name()
                );
            }
            let names = files.classes().to_vec();
            let labelled = files
                .into_files()
                .into_iter()
                .map(|(path, label)| (path, Some(label)))
                .collect();
            Ok(ImageFolder::from_files(
                labelled,
                names,
                &args.folder_options(),
            )?)
        })?;
        let what = format!(
            "{} {} images in {} ({} classes, {})",
            classes.name(),
            folder.len(),
            key.display(),
            folder.classes().len(),
            folder.storage()
        );
        let names = folder.classes().to_vec();
        Ok(Opened {
            storage: Some(folder.storage()),
            dataset: args.for_part(folder.clone(), part)?,
            what,
            classes: names,
        })
    }
}

/// `--storage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StorageArg {
    /// In memory when the decoded images fit in `--memory-limit`, else streamed.
    Auto,
    /// Decoded once into memory.
    Memory,
    /// Decoded from disk batch by batch.
    Stream,
}

/// Where the images are and how to read them.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Dataset.
    #[arg(long, value_enum, default_value_t = DatasetKind::Cifar10)]
    pub dataset: DatasetKind,
    /// The dataset's directory: CIFAR's `cifar-10-batches-bin` / `cifar-100-binary`, STL-10's
    /// `stl10_binary` (or a directory holding one of them), or the image folder. Default: the
    /// user cache (`$SELFSUP_CACHE_DIR`, else `$XDG_CACHE_HOME/selfsup`, else
    /// `~/.cache/selfsup`), where CIFAR and STL-10 are downloaded on first use (from their
    /// official addresses, or from `$SELFSUP_MIRROR/<file name>` when that is set).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Held-out labelled images of a `folder` dataset (class sub-folders named as in
    /// `--data-dir`): what probe, kNN, fine-tuning and the online kNN test on.
    #[arg(long)]
    pub test_dir: Option<PathBuf>,
    /// Never download: fail when the dataset is not in `--data-dir` or the cache.
    #[arg(long)]
    pub offline: bool,
    /// Side of the training views and of the evaluation images (default: 32 for CIFAR, 96 for
    /// STL-10 and folders).
    #[arg(long)]
    pub image_size: Option<usize>,
    /// Downscale folder images whose shorter side is longer than this when loading them
    /// (default: keep every image at its own resolution).
    #[arg(long)]
    pub max_side: Option<u32>,
    /// Skip folder files that cannot be decoded (they are listed) instead of failing.
    #[arg(long)]
    pub skip_unreadable: bool,
    /// Where a folder's decoded images live: `memory` (decoded once, when the folder is
    /// opened), `stream` (decoded from disk by the loader's workers, batch by batch: memory does
    /// not grow with the number of images) or `auto`: in memory when they fit in
    /// `--memory-limit`, streamed otherwise.
    #[arg(long, value_enum, default_value_t = StorageArg::Auto)]
    pub storage: StorageArg,
    /// With `--storage auto`, the decoded size (3 bytes per pixel, after `--max-side`) up to which
    /// a folder is held in memory, in MiB.
    #[arg(long, default_value_t = 1024, value_name = "MIB")]
    pub memory_limit: u64,
    /// Check every CIFAR-10 file against its official MD5 before use (about a second): catches
    /// a well-formed but wrong file, e.g. the test batch copied over a training batch.
    #[arg(long)]
    pub verify_md5: bool,
    /// The parts opened so far: a command that needs a part twice (training and the online
    /// kNN's memory bank, the label count and the training) reads it once.
    #[arg(skip)]
    opened: Arc<Mutex<HashMap<Part, Opened>>>,
    /// The folders indexed so far, by directory: pre-training and the evaluations' labelled
    /// images share one.
    #[arg(skip)]
    folders: Arc<Mutex<HashMap<PathBuf, Arc<ImageFolder>>>>,
}

/// Images, opened.
#[derive(Clone)]
pub struct Opened {
    /// The images.
    pub dataset: Arc<dyn ImageDataset>,
    /// A description for logs and `config.json`.
    pub what: String,
    /// The class names (empty when unlabelled).
    pub classes: Vec<String>,
    /// Where a folder's (or ImageNet's) images live; `None` for CIFAR and STL-10.
    pub storage: Option<Storage>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened").field("what", &self.what).finish()
    }
}

impl DataArgs {
    /// Side of the training views and evaluation images.
    pub fn image_size(&self) -> usize {
        self.image_size
            .unwrap_or_else(|| self.dataset.source().image_size())
    }

    /// The normalization of the views and evaluation images: the dataset's channel statistics
    /// for CIFAR (as solo-learn), ImageNet's otherwise.
    pub fn normalize(&self) -> Normalize {
        self.dataset.source().normalize()
    }

    /// Opens `part` of the dataset. Evaluation parts (`Train`, `Test`) of a folder dataset are
    /// resized and centre-cropped to `--image-size`, as torchvision's `Resize` + `CenterCrop`.
    pub fn open(&self, part: Part) -> Result<Opened> {
        let source = self.dataset.source();
        let part = source.reads(part);
        let mut opened = self.opened.lock().expect("no panic while opening");
        if let Some(done) = opened.get(&part) {
            return Ok(done.clone());
        }
        let done = source.read(self, part)?;
        opened.insert(part, done.clone());
        Ok(done)
    }

    /// The options of a folder from the flags.
    fn folder_options(&self) -> ImageFolderOptions {
        ImageFolderOptions {
            max_shorter_side: self.max_side,
            skip_unreadable: self.skip_unreadable,
            storage: match self.storage {
                StorageArg::Auto => StorageChoice::Auto,
                StorageArg::Memory => StorageChoice::Memory,
                StorageArg::Stream => StorageChoice::Stream,
            },
            memory_limit: self.memory_limit.saturating_mul(1 << 20),
            ..ImageFolderOptions::default()
        }
    }

    /// Indexes the folder `dir` (and decodes it into memory when it is held there), logging
    /// what was skipped and where the images live.
    fn open_folder(&self, dir: &Path) -> Result<Arc<ImageFolder>> {
        self.cached_folder(dir, || Ok(ImageFolder::open(dir, &self.folder_options())?))
    }

    /// The folder opened for `key` before, or `open()`'s, timed, logged and kept for the next
    /// part that reads `key`.
    fn cached_folder(
        &self,
        key: &Path,
        open: impl FnOnce() -> Result<ImageFolder>,
    ) -> Result<Arc<ImageFolder>> {
        let mut folders = self.folders.lock().expect("no panic while opening");
        if let Some(folder) = folders.get(key) {
            return Ok(folder.clone());
        }
        let started = std::time::Instant::now();
        let folder = Arc::new(open()?);
        self.log_folder(&folder, key, started);
        folders.insert(key.to_path_buf(), folder.clone());
        Ok(folder)
    }

    fn log_folder(&self, folder: &ImageFolder, dir: &Path, started: std::time::Instant) {
        for (path, reason) in folder.skipped() {
            tracing::warn!("skipped {}: {reason}", path.display());
        }
        let gib = folder.decoded_bytes() as f64 / f64::from(1u32 << 30);
        tracing::info!(
            "{}: {} images {} in {:.1} s, {} ({gib:.2} GiB decoded{})",
            dir.display(),
            folder.len(),
            match folder.storage() {
                Storage::Memory => "indexed and decoded",
                Storage::Stream => "indexed",
            },
            started.elapsed().as_secs_f64(),
            folder.storage(),
            match (folder.storage(), self.storage) {
                (Storage::Memory, StorageArg::Auto) =>
                    format!(", within --memory-limit {} MiB", self.memory_limit),
                (Storage::Stream, StorageArg::Auto) => format!(
                    ", over --memory-limit {} MiB: decoded batch by batch",
                    self.memory_limit
                ),
                _ => String::new(),
            }
        );
    }

    /// A folder as `part` uses it: pre-training takes the images as they are; the evaluation
    /// parts resize and centre-crop them to `--image-size` (torchvision's `Resize` +
    /// `CenterCrop`), once in memory, or on demand when the folder is streamed.
    fn for_part(&self, folder: Arc<ImageFolder>, part: Part) -> Result<Arc<dyn ImageDataset>> {
        Ok(match (part, folder.storage()) {
            (Part::Pretrain, _) => folder,
            (_, Storage::Memory) => {
                Arc::new(CenterResized::new(folder.as_ref(), self.image_size())?)
            }
            (_, Storage::Stream) => Arc::new(CenterResized::streamed(folder, self.image_size())?),
        })
    }

    /// The directory of a downloadable dataset: `--data-dir` (or its child of the official
    /// name), else the cache, downloading into it when missing.
    fn dataset_dir(&self, archive: Archive<'static>) -> Result<PathBuf> {
        if let Some(dir) = &self.data_dir {
            let child = dir.join(archive.dir_name);
            return Ok(if child.is_dir() { child } else { dir.clone() });
        }
        let cache = default_cache_dir().ok_or(
            "no cache directory (neither SELFSUP_CACHE_DIR, XDG_CACHE_HOME nor HOME is set): \
             pass --data-dir",
        )?;
        let dir = cache.join(archive.dir_name);
        if dir.is_dir() {
            return Ok(dir);
        }
        if self.offline {
            return Err(format!(
                "{:?} is not in {} and --offline forbids downloading it: pass --data-dir \
                 pointing at a copy of `{}`",
                self.dataset,
                cache.display(),
                archive.dir_name
            )
            .into());
        }
        // A mirror serves the same files under another address (`SELFSUP_MIRROR`).
        let mirrored = std::env::var("SELFSUP_MIRROR").ok().map(|base| {
            let file = archive.url.rsplit('/').next().unwrap_or_default();
            format!("{}/{file}", base.trim_end_matches('/'))
        });
        let archive = Archive {
            url: mirrored.as_deref().unwrap_or(archive.url),
            ..archive
        };
        download(&archive, &cache).map_err(|err| {
            format!(
                "could not download {:?} from {}: {err}\nWithout network, pass --data-dir \
                 pointing at a local copy of `{}` (the official binary version), or put it in {}",
                self.dataset,
                archive.url,
                archive.dir_name,
                cache.display()
            )
            .into()
        })
    }
}

/// Downloads `archive` into `cache` with a progress bar.
fn download(archive: &Archive<'_>, cache: &Path) -> Result<PathBuf> {
    tracing::info!(
        "downloading {} into {} (MD5-checked)",
        archive.url,
        cache.display()
    );
    let mut bar = None;
    let dir = download_archive_with_progress(archive, cache, &mut |p: DownloadProgress| {
        let bar = bar.get_or_insert_with(|| byte_bar(p.total, "download"));
        if let Some(bar) = bar {
            bar.set_position(p.downloaded);
        }
    })?;
    if let Some(Some(bar)) = bar {
        bar.finish_and_clear();
    }
    tracing::info!("{} is ready in {}", archive.dir_name, dir.display());
    Ok(dir)
}

/// All images, or `limit` of them; `flag` names the flag that asked for it in errors and
/// `images` says which images they are (`"training images"`).
///
/// The subset is class-balanced when every image is labelled, otherwise drawn at random from all
/// of them: data that mixes labelled and unlabelled images (STL-10's pre-training set: 5 000
/// labelled, 100 000 unlabelled) is drawn from whole, not from its labelled part alone.
///
/// # Errors
/// A limit of 0 or more than the images there are (`--labels 100000: the training images
/// number 50000`), and a class-balanced subset that cannot be drawn.
pub fn subset(
    dataset: &dyn ImageDataset,
    limit: Option<usize>,
    seed: u64,
    flag: &str,
    images: &str,
) -> Result<Vec<usize>> {
    let len = dataset.len();
    let labelled = dataset.num_classes() > 0 && (0..len).all(|i| dataset.target(i).is_some());
    Ok(match limit {
        None => (0..len).collect(),
        Some(0) => return Err(format!("{flag} 0: there must be at least one image").into()),
        Some(n) if n > len => {
            return Err(format!("{flag} {n}: the {images} number {len}").into());
        }
        Some(n) if n == len => (0..len).collect(),
        Some(n) if labelled => {
            class_balanced_subset(dataset, n, seed).map_err(|e| format!("{flag} {n}: {e}"))?
        }
        Some(n) => {
            // A partial Fisher-Yates shuffle with the transforms' stable generator.
            let mut rng = rng_for(seed, 0, 0);
            let mut order: Vec<usize> = (0..len).collect();
            for i in 0..n {
                let j = i + below(&mut rng, order.len() - i);
                order.swap(i, j);
            }
            order.truncate(n);
            order.sort_unstable();
            order
        }
    })
}

/// [`subset`] for a flag with a default: `limit` when given (refused when larger than the
/// images there are), else `default` images, or all of them when there are fewer.
pub fn subset_or_default(
    dataset: &dyn ImageDataset,
    limit: Option<usize>,
    default: usize,
    seed: u64,
    flag: &str,
    images: &str,
) -> Result<Vec<usize>> {
    let limit = limit.or((default < dataset.len()).then_some(default));
    subset(dataset, limit, seed, flag, images)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use selfsup::data::ImageDataset;

    use super::subset;

    /// STL-10's pre-training set in miniature: `labelled` images of 10 classes (labels cycling),
    /// then `unlabelled` images without a label.
    struct Mixed {
        labelled: usize,
        unlabelled: usize,
    }

    impl ImageDataset for Mixed {
        fn len(&self) -> usize {
            self.labelled + self.unlabelled
        }

        fn shape(&self, _index: usize) -> [usize; 3] {
            [3, 1, 1]
        }

        fn pixels(&self, _index: usize) -> selfsup::data::Result<Cow<'_, [u8]>> {
            Ok(Cow::Borrowed(&[0; 3]))
        }

        fn target(&self, index: usize) -> Option<usize> {
            (index < self.labelled).then_some(index % 10)
        }

        fn num_classes(&self) -> usize {
            10
        }
    }

    /// `--limit` on STL-10's 5 000 labelled and 100 000 unlabelled images draws from all of
    /// them, about in proportion (before: only from the 5 000 labelled ones, class-balanced).
    #[test]
    fn a_limit_on_labelled_and_unlabelled_images_draws_from_all_of_them() {
        let stl10 = Mixed {
            labelled: 5_000,
            unlabelled: 100_000,
        };
        let chosen = subset(&stl10, Some(2_100), 0, "--limit", "training images").unwrap();
        assert_eq!(chosen.len(), 2_100);
        assert!(chosen.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
        let unlabelled = chosen.iter().filter(|&&i| i >= 5_000).count();
        // 2 000 expected (100 000 / 105 000 of 2 100); a hypergeometric draw stays well within.
        assert!((1_900..=2_100).contains(&unlabelled), "{unlabelled}");
        assert_eq!(
            chosen,
            subset(&stl10, Some(2_100), 0, "--limit", "training images").unwrap(),
            "the seed fixes the draw"
        );
        // Labelled data alone stays class-balanced.
        let labelled = Mixed {
            labelled: 5_000,
            unlabelled: 0,
        };
        let chosen = subset(&labelled, Some(100), 0, "--labels", "training images").unwrap();
        for class in 0..10 {
            let n = chosen.iter().filter(|&&i| i % 10 == class).count();
            assert_eq!(n, 10, "class {class}");
        }
        // More than there are is refused, naming the flag and the number there are.
        let err = subset(&stl10, Some(200_000), 0, "--limit", "training images").unwrap_err();
        assert_eq!(
            err.to_string(),
            "--limit 200000: the training images number 105000"
        );
    }
}
