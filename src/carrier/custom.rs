//! Carriers of the user's own event types, registered on the layer
//! ([`TraceLayerBuilder::carrier`](crate::layer::TraceLayerBuilder::carrier)).
//!
//! The built-in carriers are found by the event's type when compiling ([`super::for_event`]);
//! a user's type cannot be in that list, and without specialization the layer cannot ask
//! whether an arbitrary `E` implements [`EventCarrier`]. So the layer keeps a short list of
//! registered types, looked up by [`TypeId`] only when the list is not empty: a layer without
//! registered carriers pays one branch.

use std::any::{Any, TypeId};
use std::fmt;

use super::EventCarrier;

/// A registered event type's view as a carrier.
trait View: Send + Sync {
    fn view<'a>(&self, event: &'a dyn Any) -> Option<&'a dyn EventCarrier>;
}

/// The view of events of type `E`: `E` itself, or a part of it.
struct ViewOf<E>(fn(&E) -> &dyn EventCarrier);

impl<E: Any> View for ViewOf<E> {
    fn view<'a>(&self, event: &'a dyn Any) -> Option<&'a dyn EventCarrier> {
        event.downcast_ref::<E>().map(|e| (self.0)(e))
    }
}

/// `event` as a carrier (the view of a type that implements [`EventCarrier`] itself).
pub(crate) fn itself<E: EventCarrier>(event: &E) -> &dyn EventCarrier {
    event
}

/// The event types a layer was given carriers for, with their views.
#[derive(Default)]
pub(crate) struct CustomCarriers(Vec<(TypeId, Box<dyn View>)>);

impl fmt::Debug for CustomCarriers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomCarriers")
            .field("types", &self.0.len())
            .finish()
    }
}

impl CustomCarriers {
    /// Registers `view` for events of type `E`, replacing an earlier one for `E`.
    pub(crate) fn add<E: Any>(&mut self, view: fn(&E) -> &dyn EventCarrier) {
        let id = TypeId::of::<E>();
        self.0.retain(|(t, _)| *t != id);
        self.0.push((id, Box::new(ViewOf(view))));
    }

    /// The registered view of `event`, if its type has one.
    #[inline]
    pub(crate) fn find<'a, E: Any>(&self, event: &'a E) -> Option<&'a dyn EventCarrier> {
        if self.0.is_empty() {
            return None;
        }
        let id = TypeId::of::<E>();
        let (_, view) = self.0.iter().find(|(t, _)| *t == id)?;
        view.view(event)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Job {
        headers: HashMap<String, String>,
    }

    #[test]
    fn registered_types_are_found_and_others_not() {
        let mut carriers = CustomCarriers::default();
        let job = Job {
            headers: HashMap::from([("traceparent".to_string(), "x".to_string())]),
        };
        assert!(carriers.find(&job).is_none());
        carriers.add::<Job>(|j| &j.headers);
        assert_eq!(carriers.find(&job).unwrap().get("TraceParent"), Some("x"));
        assert!(carriers.find(&42u8).is_none());
        carriers.add::<HashMap<String, String>>(itself);
        carriers.add::<Job>(|j| &j.headers);
        assert_eq!(carriers.0.len(), 2, "a type registered again is replaced");
        assert!(carriers.find(&job.headers).is_some());
    }
}
