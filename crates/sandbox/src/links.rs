//! The live services a plugin's host interfaces reach, handed to each
//! instance when it is made. Grants say what a plugin may do and are plain
//! data; links are the handles that do it (its channel scope, its
//! messenger, a provider's service), chosen by the host for that plugin.
//!
//! A links set is keyed by type, so a new host interface brings its own
//! service type and looks it up here without this file or the store's
//! state changing.

use std::any::Any;
use std::sync::Arc;

/// The services one instance may reach, by type. Cloning is cheap: the
/// set is shared, never copied.
#[derive(Clone, Default)]
pub struct Links {
    services: Arc<Vec<Arc<dyn Any + Send + Sync>>>,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Links")
            .field("services", &self.services.len())
            .finish()
    }
}

impl Links {
    /// These links and `service`, replacing a service of the same type.
    pub fn with<T: Any + Send + Sync>(self, service: T) -> Self {
        let mut services: Vec<Arc<dyn Any + Send + Sync>> = self
            .services
            .iter()
            .filter(|s| !s.is::<T>())
            .cloned()
            .collect();
        services.push(Arc::new(service));
        Self {
            services: Arc::new(services),
        }
    }

    /// The service of type `T`, if the host linked one.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.services.iter().find_map(|s| s.downcast_ref::<T>())
    }

    /// These links without the service of type `T`.
    pub fn without<T: Any + Send + Sync>(self) -> Self {
        if self.get::<T>().is_none() {
            return self;
        }
        Self {
            services: Arc::new(
                self.services
                    .iter()
                    .filter(|s| !s.is::<T>())
                    .cloned()
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_found_by_type_and_replaced_by_type() {
        let links = Links::default().with(1u32).with("x").with(2u32);
        assert_eq!(links.get::<u32>(), Some(&2));
        assert_eq!(links.get::<&str>(), Some(&"x"));
        assert_eq!(links.get::<u64>(), None);
        let links = links.without::<u32>();
        assert_eq!(links.get::<u32>(), None);
        assert_eq!(links.get::<&str>(), Some(&"x"));
    }
}
