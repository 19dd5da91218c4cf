//! Dividing one links list among many machines: `--shard K/N` and `--shard auto`.
//!
//! Every machine reads the whole list and downloads only the links of its own shard. A link's shard
//! is the [stable key](crate::key::stable_key) of its URL, exactly as written in the links file
//! (not its `out=` or `sha256=` options, not its line number), modulo the number of shards:
//!
//! ```text
//! shard(url) = u64_big_endian(sha256(url)[0..8]) mod N
//! ```
//!
//! Because the line number plays no part, editing the list (adding lines, sorting it, removing
//! finished ones) moves no link to another shard, so no finished work is reshuffled. Shards are
//! numbered from 0 to N−1, as Kubernetes numbers the pods of an Indexed Job. A line that is not a
//! valid link is sharded by its text, so exactly one shard reports it.
//!
//! [`Shard::from_env`] reads the shard from the scheduler's environment (`--shard auto`):
//!
//! | scheduler | index | count |
//! |---|---|---|
//! | Kubernetes Indexed Job | `JOB_COMPLETION_INDEX` | `--shard-count N` or `PARDL_SHARD_COUNT` (the Job's `completions`) |
//! | Slurm job array | (`SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN`) / `SLURM_ARRAY_TASK_STEP` (min 0 and step 1 when unset) | `SLURM_ARRAY_TASK_COUNT` (or `--shard-count`/`PARDL_SHARD_COUNT`) |

use std::fmt;

use crate::key::stable_key;

/// One shard of a links list: index `index` of `count`, numbered from 0.
///
/// ```
/// use pardl::Shard;
///
/// let shards: Vec<Shard> = (0..4).map(|k| Shard::parse(&format!("{k}/4")).unwrap()).collect();
/// let url = "https://example.com/data/part-00017.tar";
/// // Every URL is in exactly one of the shards.
/// assert_eq!(shards.iter().filter(|s| s.contains(url)).count(), 1);
/// assert_eq!(Shard::parse("3/4").unwrap().to_string(), "3/4");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

/// Environment variables [`Shard::from_env`] reads.
pub const SHARD_ENV: &[&str] = &[
    "JOB_COMPLETION_INDEX",
    "PARDL_SHARD_COUNT",
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_STEP",
];

impl Shard {
    /// Shard `index` of `count`; `count` must be at least 1 and `index` less than `count`.
    ///
    /// ```
    /// use pardl::Shard;
    ///
    /// assert!(Shard::new(0, 1).is_ok());
    /// assert_eq!(Shard::new(2, 2).unwrap_err(), "shard index 2 is not below the shard count 2 (shards are numbered from 0)");
    /// ```
    pub fn new(index: u64, count: u64) -> Result<Shard, String> {
        if count == 0 {
            return Err("the shard count must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "shard index {index} is not below the shard count {count} (shards are numbered from 0)"
            ));
        }
        Ok(Shard { index, count })
    }

    /// Parses `K/N`: shard K (from 0) of N.
    ///
    /// ```
    /// use pardl::Shard;
    ///
    /// let shard = Shard::parse("2/16").unwrap();
    /// assert_eq!((shard.index(), shard.count()), (2, 16));
    /// assert!(Shard::parse("16/16").is_err());
    /// assert!(Shard::parse("1/0").is_err());
    /// assert!(Shard::parse("3").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Shard, String> {
        let invalid = || {
            format!("'{text}' is not a shard: expected K/N, e.g. 0/4 (K from 0 to N-1), or auto")
        };
        let (index, count) = text.trim().split_once('/').ok_or_else(invalid)?;
        let index = index.trim().parse().map_err(|_| invalid())?;
        let count = count.trim().parse().map_err(|_| invalid())?;
        Shard::new(index, count)
    }

    /// The shard a scheduler gives this process (`--shard auto`): a Kubernetes Indexed Job
    /// (`JOB_COMPLETION_INDEX`, with the count from `count` or `PARDL_SHARD_COUNT`) or a Slurm job
    /// array (`SLURM_ARRAY_TASK_ID` and `SLURM_ARRAY_TASK_COUNT`, shifted by `SLURM_ARRAY_TASK_MIN`
    /// and divided by `SLURM_ARRAY_TASK_STEP` when they are set, so `--array=1-10` gives shards 0 to
    /// 9). `count`, when given, takes precedence over any count from the environment. `env` looks a
    /// variable up (`|name| std::env::var(name).ok()` for the process's own environment).
    ///
    /// ```
    /// use pardl::Shard;
    ///
    /// let slurm = |name: &str| match name {
    ///     "SLURM_ARRAY_TASK_ID" => Some("7".to_string()),
    ///     "SLURM_ARRAY_TASK_MIN" => Some("1".to_string()),
    ///     "SLURM_ARRAY_TASK_COUNT" => Some("10".to_string()),
    ///     _ => None,
    /// };
    /// assert_eq!(Shard::from_env(None, slurm), Ok(Shard::new(6, 10).unwrap()));
    ///
    /// let kubernetes = |name: &str| (name == "JOB_COMPLETION_INDEX").then(|| "3".to_string());
    /// assert_eq!(Shard::from_env(Some(8), kubernetes), Ok(Shard::new(3, 8).unwrap()));
    /// assert!(Shard::from_env(None, kubernetes).unwrap_err().contains("--shard-count"));
    /// assert!(Shard::from_env(None, |_| None).unwrap_err().contains("SLURM_ARRAY_TASK_ID"));
    /// ```
    pub fn from_env(
        count: Option<u64>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Shard, String> {
        let number =
            |name: &str| -> Result<Option<u64>, String> {
                match env(name) {
                    None => Ok(None),
                    Some(value) => value.trim().parse().map(Some).map_err(|_| {
                        format!("{name}={value:?} is not a non-negative whole number")
                    }),
                }
            };
        let count = match count {
            Some(count) => Some(count),
            None => number("PARDL_SHARD_COUNT")?,
        };
        let kubernetes = number("JOB_COMPLETION_INDEX")?;
        let slurm = number("SLURM_ARRAY_TASK_ID")?;
        match (kubernetes, slurm) {
            (Some(_), Some(_)) => Err(
                "--shard auto: both JOB_COMPLETION_INDEX (Kubernetes) and SLURM_ARRAY_TASK_ID (Slurm) are set; give --shard K/N".into(),
            ),
            (Some(index), None) => {
                let count = count.ok_or(
                    "--shard auto: JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but not the number of shards: give --shard-count N or set PARDL_SHARD_COUNT to the Job's completions",
                )?;
                Shard::new(index, count).map_err(|e| format!("--shard auto (JOB_COMPLETION_INDEX): {e}"))
            }
            (None, Some(id)) => {
                let count = match count {
                    Some(count) => count,
                    None => number("SLURM_ARRAY_TASK_COUNT")?.ok_or(
                        "--shard auto: SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT: give --shard-count N",
                    )?,
                };
                let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
                let step = number("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
                if id < min || (id - min) % step != 0 {
                    return Err(format!(
                        "--shard auto: SLURM_ARRAY_TASK_ID={id} is not in the array's range (SLURM_ARRAY_TASK_MIN={min}, SLURM_ARRAY_TASK_STEP={step}); use an evenly spaced --array such as 0-15, or --shard K/N"
                    ));
                }
                Shard::new((id - min) / step, count).map_err(|e| {
                    format!("--shard auto (SLURM_ARRAY_TASK_ID={id}, SLURM_ARRAY_TASK_MIN={min}, SLURM_ARRAY_TASK_STEP={step}): {e}")
                })
            }
            (None, None) => Err(
                "--shard auto: no scheduler's shard index in the environment: expected JOB_COMPLETION_INDEX (Kubernetes Indexed Job, with --shard-count N or PARDL_SHARD_COUNT) or SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (Slurm job array); elsewhere give --shard K/N".into(),
            ),
        }
    }

    /// This shard's index, from 0.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The number of shards.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The shard (from 0) that `text` (a URL as written in the links file) belongs to among `count`.
    ///
    /// ```
    /// // sha256("abc") begins ba7816bf8f01cfea, which is 13436514500253700074.
    /// assert_eq!(pardl::Shard::of("abc", 10), 4);
    /// assert_eq!(pardl::Shard::of("abc", 7), 13436514500253700074 % 7);
    /// ```
    pub fn of(text: &str, count: u64) -> u64 {
        stable_key(text) % count.max(1)
    }

    /// Whether the link with this URL (as written in the links file) is in this shard.
    pub fn contains(&self, url: &str) -> bool {
        self.holds_key(stable_key(url))
    }

    /// Whether the text with this [stable key](crate::key::stable_key) is in this shard (what
    /// [`contains`](Shard::contains) asks, for a caller that has the key already).
    pub(crate) fn holds_key(&self, key: u64) -> bool {
        key % self.count == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64: a tiny seeded generator, so the property test needs no dependency and every
    /// failure can be replayed from its seed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn url(&mut self) -> String {
            const PARTS: &[&str] = &[
                "data",
                "img",
                "a",
                "part-0001",
                "x y",
                "é",
                "?id=",
                "%2F",
                "",
            ];
            let mut url = format!("https://host{}.example/", self.below(5));
            for _ in 0..=self.below(4) {
                url.push_str(PARTS[self.below(PARTS.len() as u64) as usize]);
                url.push_str(&self.below(1000).to_string());
                url.push('/');
            }
            url.push_str(&format!("file{}.bin", self.next()));
            url
        }

        fn shuffle<T>(&mut self, items: &mut [T]) {
            for i in (1..items.len()).rev() {
                let j = self.below(i as u64 + 1) as usize;
                items.swap(i, j);
            }
        }
    }

    fn shards_of(list: &[String], count: u64) -> Vec<(String, u64)> {
        let shards: Vec<Shard> = (0..count).map(|k| Shard::new(k, count).unwrap()).collect();
        list.iter()
            .map(|url| {
                let holders: Vec<u64> = shards
                    .iter()
                    .filter(|s| s.contains(url))
                    .map(Shard::index)
                    .collect();
                assert_eq!(
                    holders.len(),
                    1,
                    "{url} is in shards {holders:?} of {count}"
                );
                (url.clone(), holders[0])
            })
            .collect()
    }

    #[test]
    fn shards_partition_any_list_and_are_stable_under_reordering_and_insertion() {
        for seed in 0..200u64 {
            let mut rng = Rng(seed);
            let list: Vec<String> = (0..rng.below(60) + 1).map(|_| rng.url()).collect();
            for count in 1..=8 {
                let before = shards_of(&list, count);
                // Shuffle and insert new lines anywhere: no URL already there changes shard.
                let mut edited = list.clone();
                rng.shuffle(&mut edited);
                for _ in 0..rng.below(20) {
                    let at = rng.below(edited.len() as u64 + 1) as usize;
                    edited.insert(at, rng.url());
                }
                let after: std::collections::HashMap<String, u64> =
                    shards_of(&edited, count).into_iter().collect();
                for (url, shard) in &before {
                    assert_eq!(
                        after[url], *shard,
                        "seed {seed}, {count} shards: {url} moved"
                    );
                }
                // Exactly one shard per link means the shards' sizes add up to the list's.
                let sizes: u64 = (0..count)
                    .map(|k| before.iter().filter(|(_, s)| *s == k).count() as u64)
                    .sum();
                assert_eq!(sizes, list.len() as u64);
            }
        }
    }

    #[test]
    fn shards_spread_links_evenly() {
        let mut rng = Rng(7);
        let mut sizes = [0u64; 8];
        for _ in 0..8000 {
            sizes[Shard::of(&rng.url(), 8) as usize] += 1;
        }
        assert!(sizes.iter().all(|&n| (800..1200).contains(&n)), "{sizes:?}");
    }

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_string())
        }
    }

    #[test]
    fn from_env_reads_kubernetes_and_slurm() {
        let k8s = [("JOB_COMPLETION_INDEX", "4"), ("PARDL_SHARD_COUNT", "6")];
        assert_eq!(Shard::from_env(None, env(&k8s)), Shard::new(4, 6));
        assert_eq!(Shard::from_env(Some(5), env(&k8s)), Shard::new(4, 5));
        let err = Shard::from_env(Some(4), env(&k8s)).unwrap_err();
        assert!(
            err.contains("shard index 4 is not below the shard count 4"),
            "{err}"
        );

        let slurm0 = [
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "16"),
        ];
        assert_eq!(Shard::from_env(None, env(&slurm0)), Shard::new(3, 16));
        let stepped = [
            ("SLURM_ARRAY_TASK_ID", "21"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_STEP", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "5"),
        ];
        assert_eq!(Shard::from_env(None, env(&stepped)), Shard::new(4, 5));
        let off_step = [
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_STEP", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "5"),
        ];
        assert!(Shard::from_env(None, env(&off_step)).is_err());
        let no_count = [("SLURM_ARRAY_TASK_ID", "3")];
        let err = Shard::from_env(None, env(&no_count)).unwrap_err();
        assert!(err.contains("SLURM_ARRAY_TASK_COUNT"), "{err}");
        let both = [("SLURM_ARRAY_TASK_ID", "3"), ("JOB_COMPLETION_INDEX", "1")];
        assert!(Shard::from_env(Some(4), env(&both))
            .unwrap_err()
            .contains("both"));
        let garbage = [("JOB_COMPLETION_INDEX", "x")];
        let err = Shard::from_env(Some(4), env(&garbage)).unwrap_err();
        assert!(err.contains("JOB_COMPLETION_INDEX=\"x\""), "{err}");
    }
}
