//! Classification metrics shared by the [kNN monitor](crate::knn) and the
//! [linear probe](crate::probe): top-1 accuracy and a per-class table.

use std::fmt;

/// Correct and total predictions for one class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassCount {
    /// Test samples of this class predicted as this class.
    pub correct: usize,
    /// Test samples of this class.
    pub total: usize,
}

impl ClassCount {
    /// `correct / total`, `None` for a class with no test sample.
    pub fn accuracy(&self) -> Option<f64> {
        (self.total > 0).then(|| self.correct as f64 / self.total as f64)
    }
}

/// Predictions on a labelled test set, with their top-1 accuracy and per-class counts.
///
/// `Display` prints the overall accuracy and a per-class table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassificationReport {
    /// The predicted class of every test sample, in test order.
    pub predictions: Vec<usize>,
    /// Counts per class, indexed by class.
    pub per_class: Vec<ClassCount>,
}

impl ClassificationReport {
    /// Compares `predictions` with `labels`.
    ///
    /// # Panics
    /// If the two lengths differ, or a label or prediction is not below `num_classes`.
    pub fn new(predictions: Vec<usize>, labels: &[usize], num_classes: usize) -> Self {
        assert_eq!(
            predictions.len(),
            labels.len(),
            "ClassificationReport::new: {} predictions for {} labels",
            predictions.len(),
            labels.len()
        );
        let mut per_class = vec![ClassCount::default(); num_classes];
        for (i, (&predicted, &label)) in predictions.iter().zip(labels).enumerate() {
            assert!(
                label < num_classes && predicted < num_classes,
                "ClassificationReport::new: sample {i} has label {label} and prediction \
                 {predicted}, but classes must be below {num_classes}"
            );
            per_class[label].total += 1;
            per_class[label].correct += usize::from(predicted == label);
        }
        Self {
            predictions,
            per_class,
        }
    }

    /// Number of correct predictions.
    pub fn correct(&self) -> usize {
        self.per_class.iter().map(|c| c.correct).sum()
    }

    /// Number of test samples.
    pub fn total(&self) -> usize {
        self.predictions.len()
    }

    /// Top-1 accuracy as a fraction in `[0, 1]` (0 for an empty test set).
    pub fn top1(&self) -> f64 {
        if self.total() == 0 {
            0.0
        } else {
            self.correct() as f64 / self.total() as f64
        }
    }
}

impl ClassificationReport {
    /// The report with the classes named (`names[c]` for class `c`) instead of numbered; a class
    /// beyond `names` keeps its number.
    ///
    /// ```
    /// use selfsup_train::ClassificationReport;
    /// let report = ClassificationReport::new(vec![0, 1, 1], &[0, 1, 0], 2);
    /// let names = ["cat".to_string(), "dog".to_string()];
    /// let table = report.with_class_names(&names).to_string();
    /// assert!(table.contains("   cat        1        2    50.00%"), "{table}");
    /// ```
    pub fn with_class_names<'a>(&'a self, names: &'a [String]) -> NamedReport<'a> {
        NamedReport {
            report: self,
            names,
        }
    }
}

/// A [`ClassificationReport`] displayed with class names; see
/// [`ClassificationReport::with_class_names`].
#[derive(Debug, Clone, Copy)]
pub struct NamedReport<'a> {
    report: &'a ClassificationReport,
    names: &'a [String],
}

impl fmt::Display for NamedReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self.report;
        writeln!(
            f,
            "top-1 accuracy {:.2}% ({}/{})",
            100.0 * report.top1(),
            report.correct(),
            report.total()
        )?;
        let width = self
            .names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0)
            .max(6);
        writeln!(
            f,
            "{:>width$} {:>8} {:>8} {:>9}",
            "class", "correct", "total", "accuracy"
        )?;
        for (class, count) in report.per_class.iter().enumerate() {
            let accuracy = match count.accuracy() {
                Some(a) => format!("{:.2}%", 100.0 * a),
                None => "-".to_string(),
            };
            let name = self
                .names
                .get(class)
                .cloned()
                .unwrap_or_else(|| class.to_string());
            writeln!(
                f,
                "{name:>width$} {:>8} {:>8} {accuracy:>9}",
                count.correct, count.total
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for ClassificationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.with_class_names(&[]))
    }
}
