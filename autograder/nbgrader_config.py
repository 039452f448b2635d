# nbgrader configuration of the course. Instructors run nbgrader from this folder:
#     cd autograder && nbgrader generate_assignment 01_fastapi_overview
# The course tools (`course release`, the soundness tests) load this same file,
# pointing CourseDirectory.root at a temporary folder instead.
from pathlib import Path

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

# The repository is the course folder: sources in solutions/, the student release in notebooks/.
c.CourseDirectory.root = str(Path(__file__).resolve().parent.parent)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.db_url = "sqlite:///" + str(Path(__file__).resolve().parent / "gradebook.db")

# What a learner sees in place of a solution. The message says what to do.
c.ClearSolutions.code_stub = {
    "python": '# YOUR CODE HERE\nraise NotImplementedError("Exercise not done yet: replace this line with your code")'
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Every cell gets at most this long when grading; a cell that runs longer is
# interrupted (it scores zero) and grading goes on with the next cell.
c.Execute.timeout = 30
c.Execute.interrupt_on_timeout = True

# A learner who deletes a test cell gets it back at grading instead of breaking autograde.
c.OverwriteCells.add_missing_cells = True

# nbgrader's own commands, tuned (coursekit/grading/preprocessors.py):
# - autograde puts a test cell's hidden tests back without warning "Attribute 'checksum' ... has
#   changed!" for every test cell of every student; a test cell the learner edited still warns;
# - generate_feedback clears hidden tests from the feedback, and the tracebacks that quote them.
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "coursekit.grading.preprocessors.RestoreHiddenTests",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.GenerateFeedback.preprocessors = [
    "coursekit.grading.preprocessors.DropIntegrityCells",
    "nbgrader.preprocessors.GetGrades",
    "coursekit.grading.preprocessors.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
