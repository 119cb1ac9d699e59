//! `lord monitor` (or `lord monitor top`): the terminal dashboard. Live
//! CPU, memory and network charts over the last two minutes, a process
//! table to search, sort and kill from (SIGTERM, only after the user
//! confirms), the containers cgroups show, and the plugins installed in
//! lord's store with what their calls cost (the performance monitor's
//! figures, read at each sample). Keys: `Tab`/`1`-`3` views, `/` search, `s` sort, arrows
//! select, `k` kill, `q` quit.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use lord_monitor::{Collector, Snapshot};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Row, Sparkline, Table, TableState, Tabs};
use ratatui::{DefaultTerminal, Frame};

use crate::render::foreign;
use crate::render::monitor::size as bytes;

/// Points each chart keeps: two minutes at the default 1-second interval.
const HISTORY: usize = 120;

/// One installed plugin as the plugins view shows it.
pub(crate) struct PluginRow {
    pub(crate) id: String,
    pub(crate) version: String,
    pub(crate) state: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Processes,
    Containers,
    Plugins,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Cpu,
    Memory,
    Pid,
    Name,
}

impl SortKey {
    fn next(self) -> Self {
        match self {
            Self::Cpu => Self::Memory,
            Self::Memory => Self::Pid,
            Self::Pid => Self::Name,
            Self::Name => Self::Cpu,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Memory => "memory",
            Self::Pid => "pid",
            Self::Name => "name",
        }
    }
}

/// What the keyboard is doing: moving around, typing a search, or
/// answering the kill question.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Browse,
    Search,
    Confirm { pid: u32, name: String },
}

/// A process row, copied out of the snapshot so the table can be
/// filtered and sorted without the snapshot.
#[derive(Debug, Clone)]
struct ProcessRow {
    pid: u32,
    name: String,
    cpu: f32,
    memory: u64,
    threads: u32,
}

struct Dashboard {
    view: View,
    sort: SortKey,
    mode: Mode,
    search: String,
    table: TableState,
    status: String,
    cpu: VecDeque<u64>,
    memory: VecDeque<u64>,
    network: VecDeque<u64>,
    last: Option<Snapshot>,
    plugins: Vec<PluginRow>,
}

/// Runs the dashboard until the user quits. The caller checked that
/// stdout is a terminal.
pub(crate) fn run(
    mut collector: Collector,
    interval: Duration,
    plugins: Vec<PluginRow>,
) -> Result<()> {
    let mut dashboard = Dashboard {
        view: View::Processes,
        sort: SortKey::Cpu,
        mode: Mode::Browse,
        search: String::new(),
        table: TableState::default().with_selected(Some(0)),
        status: "/ search · s sort · k kill · Tab views · q quit".to_owned(),
        cpu: VecDeque::new(),
        memory: VecDeque::new(),
        network: VecDeque::new(),
        last: None,
        plugins,
    };
    // ratatui::init restores the terminal on panic too; restore below
    // covers every other way out.
    let mut terminal = ratatui::init();
    let result = dashboard.main_loop(&mut terminal, &mut collector, interval);
    ratatui::restore();
    result
}

impl Dashboard {
    fn main_loop(
        &mut self,
        terminal: &mut DefaultTerminal,
        collector: &mut Collector,
        interval: Duration,
    ) -> Result<()> {
        let mut next_sample = Instant::now();
        loop {
            if Instant::now() >= next_sample {
                let snapshot = collector.sample().context("sampling the system")?;
                self.record(snapshot);
                next_sample = Instant::now() + interval;
            }
            terminal
                .draw(|frame| self.draw(frame))
                .context("drawing the dashboard")?;
            let wait = next_sample.saturating_duration_since(Instant::now());
            if event::poll(wait).context("reading the keyboard")?
                && let Event::Key(key) = event::read().context("reading the keyboard")?
                && key.kind == KeyEventKind::Press
                && self.key(key)
            {
                return Ok(());
            }
        }
    }

    fn record(&mut self, snapshot: Snapshot) {
        push(&mut self.cpu, snapshot.cpu.percent.round() as u64);
        let memory = (snapshot.memory.used * 100)
            .checked_div(snapshot.memory.total)
            .unwrap_or(0);
        push(&mut self.memory, memory);
        let bytes: f64 = snapshot
            .networks
            .iter()
            .map(|i| i.received_per_second + i.transmitted_per_second)
            .sum();
        push(&mut self.network, bytes as u64);
        self.last = Some(snapshot);
    }

    /// Handles one key; true to quit.
    #[expect(
        clippy::wildcard_enum_match_arm,
        reason = "keys the dashboard does not bind do nothing"
    )]
    fn key(&mut self, key: KeyEvent) -> bool {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return true;
        }
        match self.mode.clone() {
            Mode::Search => match key.code {
                KeyCode::Enter => self.mode = Mode::Browse,
                KeyCode::Esc => {
                    self.search.clear();
                    self.mode = Mode::Browse;
                }
                KeyCode::Backspace => {
                    self.search.pop();
                }
                KeyCode::Char(c) => {
                    self.search.push(c);
                    self.table.select(Some(0));
                }
                _ => {}
            },
            Mode::Confirm { pid, name } => {
                self.mode = Mode::Browse;
                self.status = match key.code {
                    KeyCode::Char('y' | 'Y') => kill(pid, &name),
                    _ => format!("kept {pid} ({name}) running"),
                };
            }
            Mode::Browse => return self.browse_key(key.code),
        }
        false
    }

    #[expect(
        clippy::wildcard_enum_match_arm,
        reason = "keys the dashboard does not bind do nothing"
    )]
    fn browse_key(&mut self, code: KeyCode) -> bool {
        match code {
            KeyCode::Char('q') | KeyCode::Esc => return true,
            KeyCode::Tab => {
                self.view = match self.view {
                    View::Processes => View::Containers,
                    View::Containers => View::Plugins,
                    View::Plugins => View::Processes,
                }
            }
            KeyCode::Char('1') => self.view = View::Processes,
            KeyCode::Char('2') => self.view = View::Containers,
            KeyCode::Char('3') => self.view = View::Plugins,
            KeyCode::Char('/') => {
                self.view = View::Processes;
                self.mode = Mode::Search;
            }
            KeyCode::Char('s') => {
                self.sort = self.sort.next();
                self.table.select(Some(0));
            }
            KeyCode::Down | KeyCode::Char('j') => self.table.select_next(),
            KeyCode::Up => self.table.select_previous(),
            KeyCode::Char('k') | KeyCode::Delete if self.view == View::Processes => {
                let rows = self.rows();
                let chosen = self
                    .table
                    .selected()
                    .and_then(|i| rows.get(i.min(rows.len().saturating_sub(1))));
                match chosen {
                    Some(row) => {
                        self.mode = Mode::Confirm {
                            pid: row.pid,
                            name: row.name.clone(),
                        }
                    }
                    None => self.status = "no process selected".to_owned(),
                }
            }
            _ => {}
        }
        false
    }

    /// The processes the search lets through, in the chosen order. A
    /// search matches a PID exactly or a name in part, ignoring case.
    fn rows(&self) -> Vec<ProcessRow> {
        let Some(snapshot) = &self.last else {
            return Vec::new();
        };
        let needle = self.search.to_lowercase();
        let mut rows: Vec<ProcessRow> = snapshot
            .processes
            .iter()
            .filter(|p| {
                needle.is_empty()
                    || p.pid.to_string() == needle
                    || p.name.to_lowercase().contains(&needle)
            })
            .map(|p| ProcessRow {
                pid: p.pid,
                // Process names are anyone's to choose: control characters
                // show as escapes rather than reach the terminal.
                name: foreign(&p.name).to_string(),
                cpu: p.cpu_percent,
                memory: p.memory,
                threads: p.threads,
            })
            .collect();
        match self.sort {
            SortKey::Cpu => rows.sort_by(|a, b| b.cpu.total_cmp(&a.cpu).then(a.pid.cmp(&b.pid))),
            SortKey::Memory => rows.sort_by(|a, b| b.memory.cmp(&a.memory).then(a.pid.cmp(&b.pid))),
            SortKey::Pid => rows.sort_by_key(|r| r.pid),
            SortKey::Name => rows.sort_by(|a, b| a.name.cmp(&b.name).then(a.pid.cmp(&b.pid))),
        }
        rows
    }

    fn draw(&mut self, frame: &mut Frame<'_>) {
        let [header, tabs, body, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(5),
            Constraint::Length(1),
        ])
        .areas(frame.area());
        frame.render_widget(Paragraph::new(self.header()), header);
        let titles = ["1 Processes", "2 Containers", "3 Plugins"];
        let selected = match self.view {
            View::Processes => 0,
            View::Containers => 1,
            View::Plugins => 2,
        };
        frame.render_widget(Tabs::new(titles).select(selected), tabs);
        match self.view {
            View::Processes => self.draw_processes(frame, body),
            View::Containers => self.draw_containers(frame, body),
            View::Plugins => self.draw_plugins(frame, body),
        }
        let footer_text = match &self.mode {
            Mode::Search => format!("search: {}_  (Enter keeps it, Esc clears)", self.search),
            Mode::Browse | Mode::Confirm { .. } => self.status.clone(),
        };
        frame.render_widget(Paragraph::new(footer_text), footer);
        if let Mode::Confirm { pid, name } = &self.mode {
            let area = centered(frame.area(), 50, 3);
            frame.render_widget(Clear, area);
            frame.render_widget(
                Paragraph::new(format!("Kill {pid} ({name})? y/n"))
                    .block(Block::default().borders(Borders::ALL).title("confirm")),
                area,
            );
        }
    }

    fn header(&self) -> String {
        let Some(s) = &self.last else {
            return "lord monitor · sampling…".to_owned();
        };
        format!(
            "lord monitor · {} · {} cores · cpu {:.1}% · memory {} of {} · load {:.2} {:.2} {:.2}",
            s.host.name.as_deref().unwrap_or("this machine"),
            s.cpu.cores.len(),
            s.cpu.percent,
            bytes(s.memory.used),
            bytes(s.memory.total),
            s.host.load[0],
            s.host.load[1],
            s.host.load[2],
        )
    }

    fn draw_processes(&mut self, frame: &mut Frame<'_>, area: Rect) {
        let [charts, table] =
            Layout::vertical([Constraint::Length(5), Constraint::Min(3)]).areas(area);
        let [cpu, memory, network] = Layout::horizontal([Constraint::Ratio(1, 3); 3]).areas(charts);
        let last = |d: &VecDeque<u64>| d.back().copied().unwrap_or(0);
        let chart = |title: String, data: &VecDeque<u64>, max: Option<u64>| {
            let mut spark = Sparkline::default()
                .block(Block::default().borders(Borders::ALL).title(title))
                .data(data.iter().copied().collect::<Vec<u64>>());
            if let Some(max) = max {
                spark = spark.max(max);
            }
            spark
        };
        frame.render_widget(
            chart(format!("cpu {}%", last(&self.cpu)), &self.cpu, Some(100)),
            cpu,
        );
        frame.render_widget(
            chart(
                format!("memory {}%", last(&self.memory)),
                &self.memory,
                Some(100),
            ),
            memory,
        );
        frame.render_widget(
            chart(
                format!("network {}/s", bytes(last(&self.network))),
                &self.network,
                None,
            ),
            network,
        );
        let rows = self.rows();
        // ratatui drops the selection while a search matches nothing;
        // take it back to the top once something matches again.
        if self.table.selected().is_none() && !rows.is_empty() {
            self.table.select(Some(0));
        }
        let title = format!(
            "processes · {} shown · sort: {}{}",
            rows.len(),
            self.sort.label(),
            if self.search.is_empty() {
                String::new()
            } else {
                format!(" · search: {}", self.search)
            }
        );
        let body: Vec<Row<'_>> = rows
            .iter()
            .map(|r| {
                Row::new(vec![
                    r.pid.to_string(),
                    r.name.clone(),
                    format!("{:.1}", r.cpu),
                    bytes(r.memory),
                    r.threads.to_string(),
                ])
            })
            .collect();
        let widths = [
            Constraint::Length(8),
            Constraint::Min(16),
            Constraint::Length(7),
            Constraint::Length(10),
            Constraint::Length(7),
        ];
        let table_widget = Table::new(body, widths)
            .header(
                Row::new(["PID", "NAME", "CPU%", "MEMORY", "THREADS"])
                    .style(Style::default().add_modifier(Modifier::BOLD)),
            )
            .block(Block::default().borders(Borders::ALL).title(title))
            .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
            .highlight_symbol("> ");
        frame.render_stateful_widget(table_widget, table, &mut self.table);
    }

    fn draw_containers(&self, frame: &mut Frame<'_>, area: Rect) {
        let containers = self
            .last
            .as_ref()
            .map(|s| s.containers.as_slice())
            .unwrap_or_default();
        let body: Vec<Row<'_>> = containers
            .iter()
            .map(|c| {
                Row::new(vec![
                    foreign(&c.cgroup).to_string(),
                    c.runtime
                        .as_deref()
                        .map_or("-".to_owned(), |r| foreign(r).to_string()),
                    c.processes.to_string(),
                    c.cpu_percent.map_or("-".to_owned(), |p| format!("{p:.1}")),
                    match (c.memory, c.memory_limit) {
                        (Some(m), Some(l)) => format!("{} / {}", bytes(m), bytes(l)),
                        (Some(m), None) => bytes(m),
                        (None, _) => "-".to_owned(),
                    },
                ])
            })
            .collect();
        let widths = [
            Constraint::Min(20),
            Constraint::Length(10),
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Length(22),
        ];
        let title = format!("containers (cgroups) · {}", containers.len());
        frame.render_widget(
            Table::new(body, widths)
                .header(
                    Row::new(["CGROUP", "RUNTIME", "PROCESSES", "CPU%", "MEMORY / LIMIT"])
                        .style(Style::default().add_modifier(Modifier::BOLD)),
                )
                .block(Block::default().borders(Borders::ALL).title(title)),
            area,
        );
    }

    fn draw_plugins(&self, frame: &mut Frame<'_>, area: Rect) {
        // Figures come with each sample (lord's performance monitor, every
        // process's calls); an installed plugin that never ran shows dashes,
        // not zeros that would read as "ran and cost nothing".
        let figures = self.last.as_ref().map_or(&[][..], |s| &s.plugins[..]);
        let ms = |v: f64| format!("{v:.2} ms");
        let body: Vec<Row<'_>> = self
            .plugins
            .iter()
            .map(|p| {
                let mut cells = vec![p.id.clone(), p.version.clone(), p.state.clone()];
                match figures.iter().find(|f| f.id == p.id) {
                    Some(f) => cells.extend([
                        f.calls.to_string(),
                        f.failures.to_string(),
                        ms(f.p50_ms),
                        ms(f.p95_ms),
                        bytes(f.peak_memory_bytes),
                        f.top_interface.as_ref().map_or_else(
                            || "guest".to_owned(),
                            |(name, share)| format!("{name} {:.0}%", share * 100.0),
                        ),
                    ]),
                    None => cells.extend(std::iter::repeat_n("-".to_owned(), 6)),
                }
                Row::new(cells)
            })
            .collect();
        let ran = figures.len();
        let title = format!(
            "plugins · {} installed · {ran} with calls recorded",
            self.plugins.len()
        );
        frame.render_widget(
            Table::new(
                body,
                [
                    Constraint::Min(20),
                    Constraint::Length(10),
                    Constraint::Length(9),
                    Constraint::Length(8),
                    Constraint::Length(7),
                    Constraint::Length(11),
                    Constraint::Length(11),
                    Constraint::Length(10),
                    Constraint::Length(13),
                ],
            )
            .header(
                Row::new([
                    "PLUGIN",
                    "VERSION",
                    "STATE",
                    "CALLS",
                    "FAILED",
                    "P50",
                    "P95",
                    "MEMORY",
                    "MOST TIME IN",
                ])
                .style(Style::default().add_modifier(Modifier::BOLD)),
            )
            .block(Block::default().borders(Borders::ALL).title(title)),
            area,
        );
    }
}

fn push(series: &mut VecDeque<u64>, value: u64) {
    if series.len() == HISTORY {
        series.pop_front();
    }
    series.push_back(value);
}

/// SIGTERM, so the process can clean up; the status line says how it went.
fn kill(pid: u32, name: &str) -> String {
    let Some(target) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return format!("{pid} is not a process id");
    };
    match rustix::process::kill_process(target, rustix::process::Signal::TERM) {
        Ok(()) => format!("sent SIGTERM to {pid} ({name})"),
        Err(e) => format!("could not signal {pid} ({name}): {e}"),
    }
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}
