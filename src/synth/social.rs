//! Synthetic social graph in the SNAP `facebook_combined.txt` format.
//!
//! Holme–Kim growth (preferential attachment plus triad formation): each new node links to a
//! heavy-tailed number of earlier nodes (median 14.5, mean ≈ 22, so the average degree is
//! ≈ 44 like the real graph's 43.7), chosen in proportion to their degree; after each such
//! choice, with probability [`P_TRIAD`], the next link goes to a neighbour of the chosen node,
//! which closes a triangle and gives the clustering of a real friendship graph. Degrees follow
//! a power law and, unlike plain Barabási–Albert with a fixed m, low-degree nodes exist too.
//!
//! Output: one `a b` line per undirected edge, `a < b`, sorted, no duplicates or self-loops,
//! every id in `0..n` used. Generation is sequential (growth depends on all earlier steps);
//! it is fast enough (≈ 2 M edges per second) to overlap with the retail file.

use std::io::{self, Write};

use rand::seq::SliceRandom;
use rand::Rng;

use super::{log_normal, stream_rng};
use crate::report::csv_export::write_integer;

/// Median number of links a new node makes.
const MEDIAN_LINKS: f64 = 14.5;
/// Spread (σ of the logarithm) of the number of links a new node makes.
const LINKS_SIGMA: f64 = 0.9;
/// Probability that a link after a preferential one closes a triangle instead.
const P_TRIAD: f64 = 0.5;

/// Writes the edge list of a graph on `nodes` nodes; returns the number of edges.
pub(crate) fn write_social<W: Write>(nodes: usize, seed: u64, out: &mut W) -> io::Result<usize> {
    let edges = holme_kim(nodes, seed);
    let mut buf = Vec::with_capacity(1 << 16);
    for &(a, b) in &edges {
        write_integer(&mut buf, i64::from(a));
        buf.push(b' ');
        write_integer(&mut buf, i64::from(b));
        buf.push(b'\n');
        if buf.len() >= 1 << 16 {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    Ok(edges.len())
}

/// Edges `(a, b)`, `a < b`, sorted, of a Holme–Kim graph on `nodes` (≥ 2) nodes.
fn holme_kim(nodes: usize, seed: u64) -> Vec<(u32, u32)> {
    let mut rng = stream_rng(seed, "social", 0);
    if nodes < 2 {
        return Vec::new();
    }
    let mut adjacency: Vec<Vec<u32>> = vec![Vec::new(); nodes];
    // Every edge contributes both ends, so a uniform pick here is a degree-weighted node.
    let mut endpoints: Vec<u32> = Vec::with_capacity(nodes * 44);
    let mut edges: Vec<(u32, u32)> = Vec::with_capacity(nodes * 22);
    let mut add_edge = |a: u32, b: u32, adjacency: &mut Vec<Vec<u32>>, endpoints: &mut Vec<u32>| {
        adjacency[a as usize].push(b);
        adjacency[b as usize].push(a);
        endpoints.push(a);
        endpoints.push(b);
        edges.push((a.min(b), a.max(b)));
    };
    add_edge(0, 1, &mut adjacency, &mut endpoints);
    let mut targets: Vec<u32> = Vec::new();
    let mut pool: Vec<u32> = Vec::new();
    for new in 2..nodes {
        let wanted =
            (log_normal(&mut rng, MEDIAN_LINKS, LINKS_SIGMA).round() as usize).clamp(1, new);
        targets.clear();
        if wanted * 2 > new {
            // Few earlier nodes: a uniform subset, since rejection sampling would stall.
            pool.clear();
            pool.extend(0..new as u32);
            let (chosen, _) = pool.partial_shuffle(&mut rng, wanted);
            targets.extend_from_slice(chosen);
        } else {
            let mut anchor: Option<u32> = None;
            let mut attempts = 0;
            while targets.len() < wanted {
                attempts += 1;
                let triad = match anchor {
                    Some(a) if rng.gen::<f64>() < P_TRIAD => {
                        let friends = &adjacency[a as usize];
                        friends
                            .get(rng.gen_range(0..friends.len().max(1)))
                            .copied()
                            .filter(|f| !targets.contains(f))
                    }
                    _ => None,
                };
                let candidate = match triad {
                    Some(friend) => friend,
                    None if attempts > 64 * wanted => rng.gen_range(0..new as u32),
                    None => endpoints[rng.gen_range(0..endpoints.len())],
                };
                if targets.contains(&candidate) {
                    continue;
                }
                targets.push(candidate);
                if triad.is_none() {
                    anchor = Some(candidate);
                }
            }
        }
        for &target in &targets {
            add_edge(target, new as u32, &mut adjacency, &mut endpoints);
        }
    }
    edges.sort_unstable();
    edges
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn two_nodes_make_one_edge() {
        assert_eq!(holme_kim(2, 1), vec![(0, 1)]);
    }

    #[test]
    fn small_graphs_are_simple_and_connected_to_every_node() {
        for nodes in [3, 5, 30] {
            let edges = holme_kim(nodes, 4);
            let unique: HashSet<_> = edges.iter().collect();
            assert_eq!(unique.len(), edges.len());
            assert!(edges.iter().all(|&(a, b)| a < b && (b as usize) < nodes));
            let touched: HashSet<u32> = edges.iter().flat_map(|&(a, b)| [a, b]).collect();
            assert_eq!(touched.len(), nodes);
        }
    }

    #[test]
    fn degrees_average_near_the_real_graph_and_are_heavy_tailed() {
        let nodes = 4_000;
        let edges = holme_kim(nodes, 42);
        let mut degree = vec![0usize; nodes];
        for &(a, b) in &edges {
            degree[a as usize] += 1;
            degree[b as usize] += 1;
        }
        let average = 2.0 * edges.len() as f64 / nodes as f64;
        assert!((38.0..50.0).contains(&average), "average degree {average}");
        degree.sort_unstable();
        let median = degree[nodes / 2];
        let max = degree[nodes - 1];
        assert!(max > 10 * median, "max {max} vs median {median}");
        assert!(degree[0] <= 3, "no low-degree nodes: min {}", degree[0]);
    }

    #[test]
    fn triads_raise_clustering_above_a_random_graph() {
        let nodes = 2_000;
        let edges = holme_kim(nodes, 8);
        let mut neighbours = vec![HashSet::new(); nodes];
        for &(a, b) in &edges {
            neighbours[a as usize].insert(b);
            neighbours[b as usize].insert(a);
        }
        // Share of closed wedges at the first 200 nodes with degree ≥ 2.
        let (mut closed, mut wedges) = (0usize, 0usize);
        for set in neighbours.iter().filter(|s| s.len() >= 2).take(200) {
            let list: Vec<&u32> = set.iter().collect();
            for i in 0..list.len() {
                for j in i + 1..list.len() {
                    wedges += 1;
                    if neighbours[*list[i] as usize].contains(list[j]) {
                        closed += 1;
                    }
                }
            }
        }
        let clustering = closed as f64 / wedges as f64;
        let density = 2.0 * edges.len() as f64 / (nodes * nodes) as f64;
        assert!(
            clustering > 3.0 * density,
            "clustering {clustering} density {density}"
        );
    }
}
