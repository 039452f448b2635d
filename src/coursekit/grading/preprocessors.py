"""Two nbgrader preprocessors that autograder/nbgrader_config.py plugs into nbgrader's own commands.

- RestoreHiddenTests (autograde): a learner's test cell is the source cell without its hidden
  tests, so nbgrader's checksum of every such locked cell differs from the one it stored, and it
  warns "Attribute 'checksum' for cell ... has changed!" for each test cell of each student before
  putting the source back. This puts the source back quietly when the only difference is the
  hidden part; a test cell the learner really edited still gets nbgrader's warning.
- HideHiddenTests (generate_feedback): nbgrader's feedback shows the autograded notebook, whose
  test cells hold the hidden tests again (jupyter/nbgrader#917). This clears the hidden part from
  the source and cuts error tracebacks in those cells down to the error's type and message, since
  a traceback quotes the lines around the one that failed.
- DropIntegrityCells (generate_feedback): `course grade` runs each submission between two cells of
  its own (integrity.guard); they are the grader's, not the learner's, and have no place on the
  learner's page.
"""

from __future__ import annotations

from nbformat import NotebookNode
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor, OverwriteCells
from traitlets import List


def without_hidden_tests(source: str) -> str:
    """The source as generate_assignment releases it: the hidden-tests region removed."""
    cell = NotebookNode(source=source)
    ClearHiddenTests()._remove_hidden_test_region(cell)
    return cell.source


class RestoreHiddenTests(OverwriteCells):
    """OverwriteCells that restores a released test cell's hidden tests without a warning."""

    def preprocess_cell(self, cell, resources, cell_index):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        try:
            source_cell = self.gradebook.find_source_cell(grade_id, self.notebook_id, self.assignment_id) if grade_id else None
        except MissingEntry:  # OverwriteCells reports unknown cells itself
            source_cell = None
        if source_cell is not None and source_cell.locked and cell.source != source_cell.source \
                and cell.source == without_hidden_tests(source_cell.source):
            cell.source = source_cell.source  # what nbgrader restores anyway, without the warning
        return super().preprocess_cell(cell, resources, cell_index)


class HideHiddenTests(ClearHiddenTests):
    """ClearHiddenTests for feedback: the hidden code leaves the cell and its tracebacks."""

    display_data_priority = List(config=True)  # as GetGrades: takes the HTML exporter's setting without a warning

    def preprocess_cell(self, cell, resources, cell_index):
        had_hidden = self.begin_test_delimeter in cell.source
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if had_hidden:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


class DropIntegrityCells(NbGraderPreprocessor):
    """Removes the grader's integrity cells (marked by integrity.guard) from the notebook."""

    display_data_priority = List(config=True)  # as GetGrades: takes the HTML exporter's setting without a warning

    def preprocess(self, nb, resources):
        nb.cells = [cell for cell in nb.cells if not cell.metadata.get("course_integrity")]
        return nb, resources
