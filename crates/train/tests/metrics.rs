//! `ClassificationReport`: counts and table on a hand-made example.

use selfsup_train::{ClassCount, ClassificationReport};

#[test]
fn counts_per_class() {
    // labels      0 0 0 1 1 2
    // predictions 0 1 0 1 0 2   → class 0: 2/3, class 1: 1/2, class 2: 1/1, class 3: none.
    let report = ClassificationReport::new(vec![0, 1, 0, 1, 0, 2], &[0, 0, 0, 1, 1, 2], 4);
    assert_eq!(report.correct(), 4);
    assert_eq!(report.total(), 6);
    assert_eq!(report.top1(), 4.0 / 6.0);
    assert_eq!(
        report.per_class,
        vec![
            ClassCount {
                correct: 2,
                total: 3
            },
            ClassCount {
                correct: 1,
                total: 2
            },
            ClassCount {
                correct: 1,
                total: 1
            },
            ClassCount {
                correct: 0,
                total: 0
            },
        ]
    );
    assert_eq!(report.per_class[3].accuracy(), None);
    assert_eq!(
        report.to_string(),
        "top-1 accuracy 66.67% (4/6)\n\
         \x20class  correct    total  accuracy\n\
         \x20    0        2        3    66.67%\n\
         \x20    1        1        2    50.00%\n\
         \x20    2        1        1   100.00%\n\
         \x20    3        0        0         -\n"
    );
}

#[test]
fn empty_report_has_zero_accuracy() {
    let report = ClassificationReport::new(vec![], &[], 3);
    assert_eq!(report.top1(), 0.0);
}

#[test]
#[should_panic(
    expected = "ClassificationReport::new: sample 1 has label 3 and prediction 0, but classes must be below 3"
)]
fn labels_must_be_in_range() {
    ClassificationReport::new(vec![0, 0], &[0, 3], 3);
}

#[test]
#[should_panic(expected = "ClassificationReport::new: 1 predictions for 2 labels")]
fn lengths_must_agree() {
    ClassificationReport::new(vec![0], &[0, 1], 3);
}
