//! Combinators: [`Compose`], [`RandomApply`], and the multi-view wrappers [`TwoViews`] and
//! [`MultiView`].

use rand::RngCore;

use super::error::{TransformError, check_positive_size, check_probability};
use super::image::Image;
use super::rng::bernoulli;
use super::{BoxedTransform, Transform};

/// Applies transforms one after the other: torchvision's `Compose`. An empty `Compose` is the
/// identity.
///
/// ```
/// use selfsup_data::transforms::{Compose, Normalize, RandomHorizontalFlip, Transform};
/// let t = Compose::new()
///     .then(RandomHorizontalFlip::default())
///     .then(Normalize::cifar10());
/// assert_eq!(t.len(), 2);
/// ```
#[derive(Debug, Default)]
pub struct Compose(pub Vec<BoxedTransform>);

impl Compose {
    /// An empty pipeline.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Appends a transform.
    pub fn then(mut self, t: impl Transform + 'static) -> Self {
        self.0.push(Box::new(t));
        self
    }

    /// Appends an already boxed transform.
    pub fn then_boxed(mut self, t: BoxedTransform) -> Self {
        self.0.push(t);
        self
    }

    /// Number of transforms.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no transforms.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Transform for Compose {
    fn apply(&self, img: Image, rng: &mut dyn RngCore) -> Image {
        self.0.iter().fold(img, |img, t| t.apply(img, rng))
    }

    fn apply_ref(&self, img: &Image, rng: &mut dyn RngCore) -> Image {
        match self.0.split_first() {
            None => img.clone(),
            Some((first, rest)) => {
                let img = first.apply_ref(img, rng);
                rest.iter().fold(img, |img, t| t.apply(img, rng))
            }
        }
    }
}

/// Applies a transform with probability `p`: torchvision's `RandomApply([t], p)`.
///
/// Draws one number per call, then whatever `t` draws if it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomApply<T> {
    transform: T,
    p: f32,
}

impl<T: Transform> RandomApply<T> {
    /// Applies `transform` with probability `p`.
    ///
    /// # Errors
    /// [`TransformError::OutOfRange`] naming `p` when it is not in `[0, 1]`.
    pub fn new(transform: T, p: f32) -> Result<Self, TransformError> {
        check_probability("p", p)?;
        Ok(Self { transform, p })
    }

    /// The probability.
    pub fn p(&self) -> f32 {
        self.p
    }

    /// The wrapped transform.
    pub fn inner(&self) -> &T {
        &self.transform
    }
}

impl<T: Transform> Transform for RandomApply<T> {
    fn apply(&self, img: Image, rng: &mut dyn RngCore) -> Image {
        if bernoulli(rng, self.p.into()) {
            self.transform.apply(img, rng)
        } else {
            img
        }
    }

    fn apply_ref(&self, img: &Image, rng: &mut dyn RngCore) -> Image {
        if bernoulli(rng, self.p.into()) {
            self.transform.apply_ref(img, rng)
        } else {
            img.clone()
        }
    }
}

/// Something that turns one image into several augmented views (SimCLR's two, multi-crop's
/// many).
pub trait MultiViewTransform: Send + Sync + std::fmt::Debug {
    /// How many views [`views`](Self::views) returns.
    fn num_views(&self) -> usize;

    /// The views of `img`, drawn one after the other from `rng`.
    fn views(&self, img: &Image, rng: &mut dyn RngCore) -> Vec<Image>;

    /// How many labels [`labeled_views`](Self::labeled_views) draws per image: the classes of
    /// pretext tasks (rotation, shear, colour). 0 for the SSL pipelines.
    fn num_labels(&self) -> usize {
        0
    }

    /// The views of `img` together with the [`num_labels`](Self::num_labels) labels drawn to
    /// make them. The loader calls this; the default has no labels and returns
    /// [`views`](Self::views).
    fn labeled_views(&self, img: &Image, rng: &mut dyn RngCore) -> (Vec<Image>, Vec<usize>) {
        (self.views(img, rng), Vec::new())
    }
}

/// Two independent views from the same transform: the `(t(x), t(x))` of SimCLR / SimSiam.
/// View 1 is drawn first, then view 2, from the same stream.
#[derive(Debug, Clone, PartialEq)]
pub struct TwoViews<T>(pub T);

impl<T: Transform> TwoViews<T> {
    /// The pair of views.
    pub fn pair(&self, img: &Image, rng: &mut dyn RngCore) -> (Image, Image) {
        let a = self.0.apply_ref(img, rng);
        let b = self.0.apply_ref(img, rng);
        (a, b)
    }
}

impl<T: Transform> MultiViewTransform for TwoViews<T> {
    fn num_views(&self) -> usize {
        2
    }

    fn views(&self, img: &Image, rng: &mut dyn RngCore) -> Vec<Image> {
        let (a, b) = self.pair(img, rng);
        vec![a, b]
    }
}

/// One view per transform, in order (lightly's `MultiViewTransform`): e.g. two global and six
/// local crops for multi-crop. The views are drawn one after the other from the same stream.
#[derive(Debug)]
pub struct MultiView {
    transforms: Vec<BoxedTransform>,
}

impl MultiView {
    /// One view per transform.
    ///
    /// # Errors
    /// [`TransformError::Empty`] naming `transforms` when the list is empty.
    pub fn new(transforms: Vec<BoxedTransform>) -> Result<Self, TransformError> {
        if transforms.is_empty() {
            return Err(TransformError::Empty { name: "transforms" });
        }
        Ok(Self { transforms })
    }

    /// `n` views, each from a fresh transform built by `make` (called `n` times).
    ///
    /// # Errors
    /// [`TransformError::ZeroSize`] naming `n` when it is 0.
    pub fn repeat<T: Transform + 'static>(
        n: usize,
        mut make: impl FnMut() -> T,
    ) -> Result<Self, TransformError> {
        check_positive_size("n", n)?;
        Self::new((0..n).map(|_| Box::new(make()) as BoxedTransform).collect())
    }
}

impl MultiViewTransform for MultiView {
    fn num_views(&self) -> usize {
        self.transforms.len()
    }

    fn views(&self, img: &Image, rng: &mut dyn RngCore) -> Vec<Image> {
        self.transforms
            .iter()
            .map(|t| t.apply_ref(img, rng))
            .collect()
    }
}
