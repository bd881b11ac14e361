//! Social-graph metrics over the undirected edge list: degree and PageRank.

/// Compressed adjacency of an undirected graph over nodes `0..n` (indices into `nodes`).
pub(crate) struct Graph {
    /// Distinct node ids, ascending.
    pub nodes: Vec<i64>,
    offsets: Vec<usize>,
    neighbours: Vec<u32>,
}

impl Graph {
    /// Builds the graph from undirected edges (each kept once; self-loops already dropped).
    pub(crate) fn from_edges(node_a: &[i64], node_b: &[i64]) -> Self {
        let mut nodes: Vec<i64> = node_a.iter().chain(node_b).copied().collect();
        nodes.sort_unstable();
        nodes.dedup();
        let index = |id: i64| nodes.binary_search(&id).unwrap_or_default() as u32;
        let mut degree = vec![0usize; nodes.len()];
        let pairs: Vec<(u32, u32)> = node_a
            .iter()
            .zip(node_b)
            .map(|(&a, &b)| (index(a), index(b)))
            .collect();
        for &(a, b) in &pairs {
            degree[a as usize] += 1;
            degree[b as usize] += 1;
        }
        let mut offsets = Vec::with_capacity(nodes.len() + 1);
        offsets.push(0);
        for d in &degree {
            offsets.push(offsets.last().copied().unwrap_or(0) + d);
        }
        let mut fill = offsets.clone();
        let mut neighbours = vec![0u32; offsets[nodes.len()]];
        for &(a, b) in &pairs {
            neighbours[fill[a as usize]] = b;
            fill[a as usize] += 1;
            neighbours[fill[b as usize]] = a;
            fill[b as usize] += 1;
        }
        Self {
            nodes,
            offsets,
            neighbours,
        }
    }

    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the graph has no nodes.
    pub(crate) fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Degree of node index `i` (distinct neighbours: edges are unique).
    pub(crate) fn degree(&self, i: usize) -> usize {
        self.offsets[i + 1] - self.offsets[i]
    }

    /// Index of a node id.
    pub(crate) fn index_of(&self, id: i64) -> Option<usize> {
        self.nodes.binary_search(&id).ok()
    }

    /// PageRank with uniform teleport, iterated until the L1 change is below `tol` or
    /// `max_iter` rounds. Mass of nodes without neighbours is spread uniformly, so the
    /// result always sums to 1.
    pub(crate) fn pagerank(&self, damping: f64, tol: f64, max_iter: usize) -> Vec<f64> {
        let n = self.len();
        if n == 0 {
            return Vec::new();
        }
        let uniform = 1.0 / n as f64;
        let mut rank = vec![uniform; n];
        let mut next = vec![0.0; n];
        let mut share = vec![0.0; n];
        for _ in 0..max_iter {
            let mut dangling = 0.0;
            for i in 0..n {
                let d = self.degree(i);
                if d == 0 {
                    dangling += rank[i];
                    share[i] = 0.0;
                } else {
                    share[i] = rank[i] / d as f64;
                }
            }
            let base = (1.0 - damping) * uniform + damping * dangling * uniform;
            let mut change = 0.0;
            for v in 0..n {
                let mut sum = 0.0;
                for &u in &self.neighbours[self.offsets[v]..self.offsets[v + 1]] {
                    sum += share[u as usize];
                }
                next[v] = base + damping * sum;
                change += (next[v] - rank[v]).abs();
            }
            std::mem::swap(&mut rank, &mut next);
            if change < tol {
                break;
            }
        }
        rank
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_graph_pagerank() {
        // Centre 0 with leaves 1..=3: r_c = (1-d)/4 + d·3·r_l and r_l = (1-d)/4 + d·r_c/3,
        // so r_l = (1-d)/4 · (1 + d/3) / (1 - d²).
        let graph = Graph::from_edges(&[0, 0, 0], &[1, 2, 3]);
        let rank = graph.pagerank(0.85, 1e-12, 200);
        let d: f64 = 0.85;
        let leaf = (1.0 - d) / 4.0 * (1.0 + d / 3.0) / (1.0 - d * d);
        let centre = (1.0 - d) / 4.0 + 3.0 * d * leaf;
        assert!(
            (rank[0] - centre).abs() < 1e-10,
            "{} vs {}",
            rank[0],
            centre
        );
        assert!((rank[1] - leaf).abs() < 1e-10);
        assert!((rank.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(graph.degree(0), 3);
    }

    #[test]
    fn nodes_are_sorted_ids() {
        let graph = Graph::from_edges(&[10, 3], &[7, 10]);
        assert_eq!(graph.nodes, vec![3, 7, 10]);
        assert_eq!(graph.index_of(10), Some(2));
        assert_eq!(graph.degree(2), 2);
    }
}
