//! [`StoredValues`]: a session's named values, as a sorted vector.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Index;

use super::StoredValue;

/// A session's named values, ordered by name.
///
/// A map with the calls of a `BTreeMap` that stores use, kept as one sorted `Vec`: a
/// session holds a handful of values, and every request decodes its record into this and
/// drops it again. A `BTreeMap` allocates a node of room for eleven entries for the first
/// value and walks its nodes to drop them; one vector of exactly the values costs one
/// allocation and a plain loop. Lookups are binary searches.
///
/// `Debug` prints names and values like a map does: the record types here are the
/// store's view, and callers that log must not print them (the `sessio` crate never does).
///
/// ```
/// use sessio_core::record::{StoredValue, StoredValues};
///
/// let mut values = StoredValues::new();
/// values.insert("cart".into(), StoredValue { version: 1, bytes: b"[]".to_vec() });
/// values.insert("a".into(), StoredValue { version: 1, bytes: b"1".to_vec() });
/// assert_eq!(values.keys().collect::<Vec<_>>(), ["a", "cart"]);
/// assert_eq!(values["cart"].bytes, b"[]");
/// assert!(values.remove("a").is_some());
/// assert_eq!(values.len(), 1);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StoredValues(Vec<(String, StoredValue)>);

impl StoredValues {
    /// No values; allocates nothing.
    pub const fn new() -> Self {
        StoredValues(Vec::new())
    }

    /// Room for `capacity` values.
    pub fn with_capacity(capacity: usize) -> Self {
        StoredValues(Vec::with_capacity(capacity))
    }

    /// How many values there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Holds no values.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Removes every value.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(held, _)| held.as_str().cmp(name))
    }

    /// The value named `name`.
    pub fn get(&self, name: &str) -> Option<&StoredValue> {
        let i = self.position(name).ok()?;
        self.0.get(i).map(|(_, value)| value)
    }

    /// The value named `name`, to change in place.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut StoredValue> {
        let i = self.position(name).ok()?;
        self.0.get_mut(i).map(|(_, value)| value)
    }

    /// Whether a value is named `name`.
    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// Sets `name` to `value` and returns the value it replaces.
    pub fn insert(&mut self, name: String, value: StoredValue) -> Option<StoredValue> {
        match self.position(&name) {
            Ok(i) => self
                .0
                .get_mut(i)
                .map(|(_, held)| core::mem::replace(held, value)),
            Err(i) => {
                self.0.insert(i, (name, value));
                None
            }
        }
    }

    /// Removes the value named `name` and returns it.
    pub fn remove(&mut self, name: &str) -> Option<StoredValue> {
        let i = self.position(name).ok()?;
        Some(self.0.remove(i).1)
    }

    /// Names and values, ordered by name.
    pub fn iter(&self) -> StoredValuesIter<'_> {
        StoredValuesIter(self.0.iter())
    }

    /// The names, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator + '_ {
        self.0.iter().map(|(name, _)| name)
    }

    /// The values, ordered by name.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &StoredValue> + ExactSizeIterator + '_ {
        self.0.iter().map(|(_, value)| value)
    }
}

/// The iterator of [`StoredValues::iter`]: `(name, value)` ordered by name.
#[derive(Clone, Debug)]
pub struct StoredValuesIter<'a>(core::slice::Iter<'a, (String, StoredValue)>);

impl<'a> Iterator for StoredValuesIter<'a> {
    type Item = (&'a String, &'a StoredValue);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(name, value)| (name, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for StoredValuesIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(name, value)| (name, value))
    }
}

impl ExactSizeIterator for StoredValuesIter<'_> {}

impl<'a> IntoIterator for &'a StoredValues {
    type Item = (&'a String, &'a StoredValue);
    type IntoIter = StoredValuesIter<'a>;

    fn into_iter(self) -> StoredValuesIter<'a> {
        self.iter()
    }
}

impl IntoIterator for StoredValues {
    type Item = (String, StoredValue);
    type IntoIter = alloc::vec::IntoIter<(String, StoredValue)>;

    /// Names and values, ordered by name.
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl FromIterator<(String, StoredValue)> for StoredValues {
    /// Later values replace earlier ones of the same name, as in a map.
    fn from_iter<I: IntoIterator<Item = (String, StoredValue)>>(iter: I) -> Self {
        let mut values = StoredValues::new();
        values.extend(iter);
        values
    }
}

impl Extend<(String, StoredValue)> for StoredValues {
    fn extend<I: IntoIterator<Item = (String, StoredValue)>>(&mut self, iter: I) {
        for (name, value) in iter {
            self.insert(name, value);
        }
    }
}

impl Index<&str> for StoredValues {
    type Output = StoredValue;

    /// The value named `name`.
    ///
    /// # Panics
    /// When there is none, as a map's indexing does.
    fn index(&self, name: &str) -> &StoredValue {
        match self.get(name) {
            Some(value) => value,
            None => panic!("no stored value of that name"),
        }
    }
}

impl fmt::Debug for StoredValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use alloc::vec;
    use proptest::prelude::*;

    fn value(version: u64) -> StoredValue {
        StoredValue {
            version,
            bytes: vec![version as u8],
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8, u64),
        Remove(u8),
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..12, any::<u64>()).prop_map(|(k, v)| Op::Insert(k, v)),
            2 => (0u8..12).prop_map(Op::Remove),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        /// Behaves as a `BTreeMap` of the same operations.
        #[test]
        fn agrees_with_a_btree_map(ops in proptest::collection::vec(op(), 0..64)) {
            let mut values = StoredValues::new();
            let mut model = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        let name = alloc::format!("v{k}");
                        prop_assert_eq!(
                            values.insert(name.clone(), value(v)),
                            model.insert(name, value(v))
                        );
                    }
                    Op::Remove(k) => {
                        let name = alloc::format!("v{k}");
                        prop_assert_eq!(values.remove(&name), model.remove(&name));
                    }
                    Op::Clear => {
                        values.clear();
                        model.clear();
                    }
                }
                prop_assert_eq!(values.len(), model.len());
                prop_assert!(values.iter().eq(model.iter()));
                for k in 0..12u8 {
                    let name = alloc::format!("v{k}");
                    prop_assert_eq!(values.get(&name), model.get(&name));
                    prop_assert_eq!(values.contains_key(&name), model.contains_key(&name));
                }
            }
        }
    }
}
