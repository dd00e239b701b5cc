use super::*;

#[test]
fn without_state_dir_the_configured_anchors_serve_and_nothing_is_due() {
    let configured = AnchorSet::builtin();
    let (mut tracker, errors) = Rfc5011::new(&configured, None, Timers::default());
    assert!(errors.is_empty());
    assert!(!tracker.tracking());
    assert!(tracker.due(0).is_empty());
    assert_eq!(tracker.next_due(), None);
    assert_eq!(tracker.trusted(), configured);
    assert_eq!(tracker.anchors_for(&Name::root()).len(), 2);
    assert!(tracker.info().iter().all(|row| row.state == "configured"));
}
