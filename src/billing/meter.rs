//! The meter: every product instance's usage in the current cycle, in memory.
//!
//! The store holds the same figures; the accounting journal changes both (the store in
//! its transaction, the meter right after it commits), and so does settlement. The meter
//! keeps what was added and what was settled apart and shows the difference, so the
//! changes commute: when a settlement (taking off what it settled) and an Interim (adding
//! its delta) reach the meter in either order, it ends where the store is.

use dashmap::DashMap;

use crate::account::Usage;

/// Usage of every product instance in its current cycle, by user, then product (a
/// user holds few products; lookups by `&str` allocate nothing).
#[derive(Debug, Default)]
pub struct Meter {
    usage: DashMap<Box<str>, Vec<(Box<str>, Tally)>>,
}

/// Added and settled usage of one instance.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    added: Usage,
    settled: Usage,
}

impl Meter {
    /// The usage of `user`'s instance of `product` (zero when there is none).
    pub fn usage(&self, user: &str, product: &str) -> Usage {
        self.usage
            .get(user)
            .and_then(|products| {
                products
                    .iter()
                    .find(|(p, _)| &**p == product)
                    .map(|(_, t)| t.added.minus(t.settled))
            })
            .unwrap_or_default()
    }

    /// Changes the tally of an instance.
    fn tally(&self, user: &str, product: &str, change: impl FnOnce(&mut Tally)) {
        let mut products = self.usage.entry(user.into()).or_default();
        match products.iter_mut().find(|(p, _)| &**p == product) {
            Some((_, t)) => change(t),
            None => {
                let mut t = Tally::default();
                change(&mut t);
                products.push((product.into(), t));
            }
        }
    }

    /// Adds `delta` to an instance.
    pub fn add(&self, user: &str, product: &str, delta: Usage) {
        self.tally(user, product, |t| t.added = t.added.plus(delta));
    }

    /// Takes `settled` off an instance (a settled cycle).
    pub fn subtract(&self, user: &str, product: &str, settled: Usage) {
        self.tally(user, product, |t| t.settled = t.settled.plus(settled));
    }

    /// Forgets an instance taken from its user (its stored usage went with it).
    pub fn forget(&self, user: &str, product: &str) {
        if let Some(mut products) = self.usage.get_mut(user) {
            products.retain(|(p, _)| &**p != product);
        }
        self.usage
            .remove_if(user, |_, products| products.is_empty());
    }

    /// Replaces every instance's usage with `rows` as loaded from the store (those not
    /// among them have none).
    pub fn reset(&self, rows: Vec<(String, String, Usage)>) {
        self.usage.clear();
        for (user, product, usage) in rows {
            self.set(&user, &product, usage);
        }
    }

    /// Sets an instance's usage as loaded from the store.
    pub fn set(&self, user: &str, product: &str, usage: Usage) {
        self.tally(user, product, |t| {
            *t = Tally {
                added: usage,
                settled: Usage::default(),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn additions_and_settlements_commute() {
        let used = |secs| Usage {
            secs,
            ..Usage::default()
        };
        let a = Meter::default();
        a.add("u", "p", used(100));
        a.subtract("u", "p", used(100));
        a.add("u", "p", used(20));
        let b = Meter::default();
        b.add("u", "p", used(100));
        b.add("u", "p", used(20));
        b.subtract("u", "p", used(100));
        assert_eq!(a.usage("u", "p"), used(20));
        assert_eq!(b.usage("u", "p"), used(20));
        assert_eq!(a.usage("u", "other"), Usage::default());
    }
}
