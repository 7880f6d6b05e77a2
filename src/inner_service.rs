//! The accessors every wrapping service of this crate has (`get_ref`, `get_mut`, `into_inner`).

/// `get_ref`, `get_mut` and `into_inner` for a middleware service whose wrapped service is the
/// field `inner` (tower-http's `define_inner_service_accessors!`).
macro_rules! inner_service_accessors {
    () => {
        /// The wrapped service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// The wrapped service, mutably.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// Unwraps the service.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}
pub(crate) use inner_service_accessors;
