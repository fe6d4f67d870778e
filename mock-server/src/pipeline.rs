//! Aggregation pipelines: `$match $project $addFields/$set $unset $sort $skip $limit
//! $count $group`, run in memory over a collection's documents.
//!
//! `$group` supports `_id` expressions and the accumulators `$sum $avg $min $max $first
//! $last $push $addToSet $count`, enough for `count_documents`
//! (`{$group: {_id: 1, n: {$sum: 1}}}`) and typical test pipelines.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use bson::{Bson, Document};

use crate::error::{code, CommandError};
use crate::query::compare::{as_f64, compare, equal};
use crate::query::{expr, path, Filter, Projection, Sort};

/// A parsed pipeline.
#[derive(Clone, Debug)]
pub struct Pipeline {
    stages: Vec<Stage>,
}

#[derive(Clone, Debug)]
enum Stage {
    Match(Filter),
    Project(Projection),
    AddFields(Vec<(String, Bson)>),
    Unset(Vec<String>),
    Sort(Sort),
    Skip(usize),
    Limit(usize),
    Count(String),
    Group(Group),
}

#[derive(Clone, Debug)]
struct Group {
    id: Bson,
    fields: Vec<(String, Accumulator, Bson)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Accumulator {
    Sum,
    Avg,
    Min,
    Max,
    First,
    Last,
    Push,
    AddToSet,
}

impl Pipeline {
    /// Parses the `pipeline` array.
    ///
    /// # Errors
    /// mongod's codes: 40323 for a stage with other than one field, 40324 for an unknown
    /// stage, 15958/15956 for bad `$limit`/`$skip`, and the filter/projection errors.
    pub fn parse(stages: &[Bson]) -> Result<Pipeline, CommandError> {
        let stages = stages.iter().map(parse_stage).collect::<Result<_, _>>()?;
        Ok(Pipeline { stages })
    }

    /// Runs the pipeline over `docs`.
    ///
    /// # Errors
    /// Expression errors from `$project`, `$addFields` and `$group`.
    pub fn run(&self, mut docs: Vec<Document>) -> Result<Vec<Document>, CommandError> {
        for stage in &self.stages {
            docs = run_stage(stage, docs)?;
        }
        Ok(docs)
    }
}

fn parse_stage(stage: &Bson) -> Result<Stage, CommandError> {
    let Bson::Document(stage) = stage else {
        return Err(CommandError::type_mismatch(
            "Each element of the 'pipeline' array must be an object",
        ));
    };
    let mut fields = stage.iter();
    let (Some((name, spec)), None) = (fields.next(), fields.next()) else {
        return Err(CommandError::new(
            40323,
            "A pipeline stage specification object must contain exactly one field.",
        ));
    };
    let parsed = match name.as_str() {
        "$match" => Stage::Match(Filter::parse(object(name, spec)?)?),
        "$project" => Stage::Project(Projection::parse(object(name, spec)?)?),
        "$addFields" | "$set" => {
            let fields: Vec<(String, Bson)> = object(name, spec)?.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            for (_, e) in &fields {
                expr::validate(e)?;
            }
            Stage::AddFields(fields)
        }
        "$unset" => Stage::Unset(match spec {
            Bson::String(s) => vec![s.clone()],
            Bson::Array(items) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
            _ => return Err(CommandError::new(31002, "$unset specification must be a string or an array")),
        }),
        "$sort" => Stage::Sort(Sort::parse(object(name, spec)?)?),
        "$skip" => match whole(spec) {
            Some(n) if n >= 0 => Stage::Skip(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => return Err(CommandError::new(15956, "Argument to $skip cannot be negative")),
        },
        "$limit" => match whole(spec) {
            Some(n) if n > 0 => Stage::Limit(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => return Err(CommandError::new(15958, "the limit must be positive")),
        },
        "$count" => match spec {
            Bson::String(s) if !s.is_empty() && !s.starts_with('$') && !s.contains('.') => Stage::Count(s.clone()),
            _ => return Err(CommandError::new(40156, "the count field must be a non-empty string without '$' or '.'")),
        },
        "$group" => Stage::Group(parse_group(object(name, spec)?)?),
        other => {
            return Err(CommandError::new(
                code::UNRECOGNIZED_STAGE,
                format!("Unrecognized pipeline stage name: '{other}' (the mock supports $match $project $addFields $set $unset $sort $skip $limit $count $group)"),
            ))
        }
    };
    Ok(parsed)
}

fn parse_group(spec: &Document) -> Result<Group, CommandError> {
    let id = spec
        .get("_id")
        .cloned()
        .ok_or_else(|| CommandError::new(15955, "a group specification must include an _id"))?;
    expr::validate(&id)?;
    let mut fields = Vec::new();
    for (name, acc) in spec.iter().filter(|(k, _)| k.as_str() != "_id") {
        let Bson::Document(acc) = acc else {
            return Err(CommandError::new(
                40234,
                format!("The field '{name}' must be an accumulator object"),
            ));
        };
        let mut entries = acc.iter();
        let (Some((op, arg)), None) = (entries.next(), entries.next()) else {
            return Err(CommandError::new(
                40238,
                format!("The field '{name}' must specify one accumulator"),
            ));
        };
        let (accumulator, arg) = match op.as_str() {
            "$sum" => (Accumulator::Sum, arg.clone()),
            "$count" => (Accumulator::Sum, Bson::Int32(1)),
            "$avg" => (Accumulator::Avg, arg.clone()),
            "$min" => (Accumulator::Min, arg.clone()),
            "$max" => (Accumulator::Max, arg.clone()),
            "$first" => (Accumulator::First, arg.clone()),
            "$last" => (Accumulator::Last, arg.clone()),
            "$push" => (Accumulator::Push, arg.clone()),
            "$addToSet" => (Accumulator::AddToSet, arg.clone()),
            other => {
                return Err(CommandError::new(
                    15952,
                    format!("unknown group operator '{other}'"),
                ))
            }
        };
        expr::validate(&arg)?;
        fields.push((name.clone(), accumulator, arg));
    }
    Ok(Group { id, fields })
}

fn run_stage(stage: &Stage, docs: Vec<Document>) -> Result<Vec<Document>, CommandError> {
    Ok(match stage {
        Stage::Match(filter) => docs.into_iter().filter(|d| filter.matches(d)).collect(),
        Stage::Project(projection) => docs
            .iter()
            .map(|d| projection.apply(d))
            .collect::<Result<_, _>>()?,
        Stage::AddFields(fields) => {
            let mut out = Vec::with_capacity(docs.len());
            for doc in docs {
                let mut next = doc.clone();
                for (field, e) in fields {
                    match expr::evaluate(e, &doc)? {
                        Some(v) => path::set(&mut next, field, v)?,
                        None => {
                            path::unset(&mut next, field);
                        }
                    }
                }
                out.push(next);
            }
            out
        }
        Stage::Unset(fields) => docs
            .into_iter()
            .map(|mut d| {
                for f in fields {
                    path::unset(&mut d, f);
                }
                d
            })
            .collect(),
        Stage::Sort(sort) => {
            let mut docs = docs;
            sort.apply(&mut docs);
            docs
        }
        Stage::Skip(n) => docs.into_iter().skip(*n).collect(),
        Stage::Limit(n) => docs.into_iter().take(*n).collect(),
        Stage::Count(field) if docs.is_empty() => Vec::new(),
        Stage::Count(field) => {
            let n = i32::try_from(docs.len()).map_or(Bson::Int64(docs.len() as i64), Bson::Int32);
            vec![bson::doc! {field.as_str(): n}]
        }
        Stage::Group(group) => run_group(group, docs)?,
    })
}

/// A group key ordered by mongod's comparison, so `1` and `1.0` are one group.
#[derive(Clone, Debug)]
struct Key(Bson);

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        equal(&self.0, &other.0)
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(&self.0, &other.0)
    }
}

fn run_group(group: &Group, docs: Vec<Document>) -> Result<Vec<Document>, CommandError> {
    let mut index: BTreeMap<Key, usize> = BTreeMap::new();
    let mut groups: Vec<(Bson, Vec<State>)> = Vec::new();
    for doc in &docs {
        let key = expr::evaluate(&group.id, doc)?.unwrap_or(Bson::Null);
        let slot = *index.entry(Key(key.clone())).or_insert_with(|| {
            groups.push((key, group.fields.iter().map(|_| State::default()).collect()));
            groups.len() - 1
        });
        for ((_, accumulator, arg), state) in group.fields.iter().zip(groups[slot].1.iter_mut()) {
            let value = expr::evaluate(arg, doc)?;
            state.add(*accumulator, value);
        }
    }
    Ok(groups
        .into_iter()
        .map(|(key, states)| {
            let mut out = bson::doc! {"_id": key};
            for ((name, accumulator, _), state) in group.fields.iter().zip(states) {
                out.insert(name.clone(), state.finish(*accumulator));
            }
            out
        })
        .collect())
}

/// One accumulator's running state.
#[derive(Debug, Default)]
struct State {
    int_sum: i64,
    float_sum: f64,
    saw_double: bool,
    saw_long: bool,
    overflowed: bool,
    count: u64,
    value: Option<Bson>,
    values: Vec<Bson>,
}

impl State {
    fn add(&mut self, accumulator: Accumulator, value: Option<Bson>) {
        match accumulator {
            Accumulator::Sum | Accumulator::Avg => {
                if let Some(v) = value.as_ref().filter(|v| as_f64(v).is_some()) {
                    self.add_number(v);
                }
            }
            Accumulator::Min | Accumulator::Max => {
                let Some(v) = value.filter(|v| !matches!(v, Bson::Null | Bson::Undefined)) else {
                    return;
                };
                let better = match &self.value {
                    None => true,
                    Some(current) => {
                        let ord = compare(&v, current);
                        if accumulator == Accumulator::Min {
                            ord == Ordering::Less
                        } else {
                            ord == Ordering::Greater
                        }
                    }
                };
                if better {
                    self.value = Some(v);
                }
            }
            Accumulator::First => {
                if self.count == 0 {
                    self.value = Some(value.unwrap_or(Bson::Null));
                }
                self.count += 1;
            }
            Accumulator::Last => self.value = Some(value.unwrap_or(Bson::Null)),
            Accumulator::Push => self.values.extend(value),
            Accumulator::AddToSet => {
                if let Some(v) = value {
                    if !self.values.iter().any(|x| equal(x, &v)) {
                        self.values.push(v);
                    }
                }
            }
        }
    }

    fn add_number(&mut self, v: &Bson) {
        self.count += 1;
        self.float_sum += as_f64(v).unwrap_or(0.0);
        match v {
            Bson::Int32(i) => self.add_int(i64::from(*i)),
            Bson::Int64(i) => {
                self.saw_long = true;
                self.add_int(*i);
            }
            _ => self.saw_double = true,
        }
    }

    fn add_int(&mut self, i: i64) {
        match self.int_sum.checked_add(i) {
            Some(s) => self.int_sum = s,
            None => self.overflowed = true,
        }
    }

    fn finish(self, accumulator: Accumulator) -> Bson {
        match accumulator {
            Accumulator::Sum if self.saw_double || self.overflowed => Bson::Double(self.float_sum),
            Accumulator::Sum if self.saw_long => Bson::Int64(self.int_sum),
            Accumulator::Sum => {
                i32::try_from(self.int_sum).map_or(Bson::Int64(self.int_sum), Bson::Int32)
            }
            Accumulator::Avg if self.count == 0 => Bson::Null,
            Accumulator::Avg => Bson::Double(self.float_sum / self.count as f64),
            Accumulator::Min | Accumulator::Max | Accumulator::First | Accumulator::Last => {
                self.value.unwrap_or(Bson::Null)
            }
            Accumulator::Push | Accumulator::AddToSet => Bson::Array(self.values),
        }
    }
}

fn object<'a>(stage: &str, spec: &'a Bson) -> Result<&'a Document, CommandError> {
    match spec {
        Bson::Document(d) => Ok(d),
        _ => Err(CommandError::new(
            15959,
            format!("the {stage} specification must be an object"),
        )),
    }
}

fn whole(v: &Bson) -> Option<i64> {
    as_f64(v).filter(|n| n.fract() == 0.0).map(|n| n as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{bson, doc};

    fn run(pipeline: Bson, docs: Vec<Document>) -> Result<Vec<Document>, i32> {
        let Bson::Array(stages) = pipeline else {
            return Err(-1);
        };
        Pipeline::parse(&stages)
            .and_then(|p| p.run(docs))
            .map_err(|e| e.code)
    }

    fn sample() -> Vec<Document> {
        (1..=5)
            .map(|i| doc! {"_id": i, "k": i % 2, "v": i * 10})
            .collect()
    }

    #[test]
    fn count_documents_shape() {
        let out = run(
            bson!([{"$match": {"k": 1}}, {"$group": {"_id": 1, "n": {"$sum": 1}}}]),
            sample(),
        );
        assert_eq!(out, Ok(vec![doc! {"_id": 1, "n": 3}]));
        // An empty match yields no document at all, not {n: 0}.
        let out = run(
            bson!([{"$match": {"k": 7}}, {"$group": {"_id": 1, "n": {"$sum": 1}}}]),
            sample(),
        );
        assert_eq!(out, Ok(vec![]));
    }

    #[test]
    fn stages_compose() {
        let out = run(
            bson!([{"$sort": {"v": -1}}, {"$skip": 1}, {"$limit": 2}, {"$project": {"_id": 0, "v": 1}}]),
            sample(),
        );
        assert_eq!(out, Ok(vec![doc! {"v": 40}, doc! {"v": 30}]));
        assert_eq!(
            run(bson!([{"$count": "total"}]), sample()),
            Ok(vec![doc! {"total": 5}])
        );
        assert_eq!(run(bson!([{"$count": "total"}]), vec![]), Ok(vec![]));
    }

    #[test]
    fn group_accumulators() {
        let out = run(
            bson!([{"$group": {"_id": "$k", "sum": {"$sum": "$v"}, "avg": {"$avg": "$v"}, "max": {"$max": "$v"}, "all": {"$push": "$_id"}}}, {"$sort": {"_id": 1}}]),
            sample(),
        );
        assert_eq!(
            out,
            Ok(vec![
                doc! {"_id": 0, "sum": 60, "avg": 30.0, "max": 40, "all": [2, 4]},
                doc! {"_id": 1, "sum": 90, "avg": 30.0, "max": 50, "all": [1, 3, 5]},
            ])
        );
    }

    #[test]
    fn bad_stages() {
        assert_eq!(run(bson!([{"$out": "x"}]), vec![]).err(), Some(40324));
        assert_eq!(run(bson!([{"$limit": 0}]), vec![]).err(), Some(15958));
        assert_eq!(
            run(bson!([{"$match": {}, "$limit": 1}]), vec![]).err(),
            Some(40323)
        );
    }
}
